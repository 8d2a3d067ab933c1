"""Fixtures of the maintenance tests: the reference data, committed under tests/data (large
files xz-compressed; the readers decompress them)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cmapss_dir(reference_data: Path) -> Path:
    return reference_data / "cmapss"


@pytest.fixture(scope="session")
def ai4i_csv(reference_data: Path) -> Path:
    return reference_data / "ai4i2020" / "ai4i2020.csv.xz"
