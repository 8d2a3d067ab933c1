"""Reference data sets for the quality tests.

Piston-ring inside diameters: Montgomery, *Introduction to Statistical Quality Control*
(Table 6.3 Phase I, 25 samples of 5; Table 6.4 Phase II, samples 26-40), as distributed
with the R package qcc (``pistonrings``).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PISTON_CSV = HERE / "data" / "pistonrings.csv"


@pytest.fixture(scope="session")
def piston_rings() -> np.ndarray:
    """All 40 samples of 5 as a (40, 5) array; rows 0-24 are Phase I."""
    with PISTON_CSV.open(newline="") as handle:
        values = [float(row["value"]) for row in csv.DictReader(handle)]
    return np.asarray(values).reshape(40, 5)


@pytest.fixture(scope="session")
def per_point_rules() -> ModuleType:
    """The per-point Python reference implementation that the benchmark also uses."""
    path = ROOT / "benchmarks" / "quality" / "per_point_rules.py"
    spec = importlib.util.spec_from_file_location("per_point_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
