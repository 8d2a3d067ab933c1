"""Planning test fixtures: the reference instance folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def jssp_dir(shared_data: Path) -> Path:
    return shared_data / "jssp"


@pytest.fixture()
def fjsp_dir(shared_data: Path) -> Path:
    return shared_data / "fjsp" / "brandimarte"
