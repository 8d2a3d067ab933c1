"""Planning test fixtures: the reference instance folders (committed under tests/data)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def jssp_dir(reference_data: Path) -> Path:
    return reference_data / "jssp"


@pytest.fixture()
def fjsp_dir(reference_data: Path) -> Path:
    return reference_data / "fjsp" / "brandimarte"
