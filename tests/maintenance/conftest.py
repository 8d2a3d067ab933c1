"""Fixtures of the maintenance tests: reference data paths and small subsets of them."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cmapss_dir(shared_data: Path) -> Path:
    return shared_data / "cmapss"


@pytest.fixture(scope="session")
def ai4i_csv(shared_data: Path) -> Path:
    return shared_data / "ai4i2020" / "ai4i2020.csv"
