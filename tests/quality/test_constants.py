"""Computed control-chart constants against Montgomery, *Introduction to Statistical Quality
Control*, Appendix VI ("Factors for constructing variables control charts"), n = 2..25."""

from __future__ import annotations

import math

import pytest

from microfactory.quality.constants import c4, control_constants, d2, d3

SIZES = range(2, 26)
# Appendix VI, columns in order of n = 2..25.
TABLE = {
    "d2": [1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336,
           3.407, 3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931],
    "d3": [0.853, 0.888, 0.880, 0.864, 0.848, 0.833, 0.820, 0.808, 0.797, 0.787, 0.778, 0.770,
           0.763, 0.756, 0.750, 0.744, 0.739, 0.734, 0.729, 0.724, 0.720, 0.716, 0.712, 0.708],
    "c4": [0.7979, 0.8862, 0.9213, 0.9400, 0.9515, 0.9594, 0.9650, 0.9693, 0.9727, 0.9754,
           0.9776, 0.9794, 0.9810, 0.9823, 0.9835, 0.9845, 0.9854, 0.9862, 0.9869, 0.9876,
           0.9882, 0.9887, 0.9892, 0.9896],
    "a2": [1.880, 1.023, 0.729, 0.577, 0.483, 0.419, 0.373, 0.337, 0.308, 0.285, 0.266, 0.249,
           0.235, 0.223, 0.212, 0.203, 0.194, 0.187, 0.180, 0.173, 0.167, 0.162, 0.157, 0.153],
    "a3": [2.659, 1.954, 1.628, 1.427, 1.287, 1.182, 1.099, 1.032, 0.975, 0.927, 0.886, 0.850,
           0.817, 0.789, 0.763, 0.739, 0.718, 0.698, 0.680, 0.663, 0.647, 0.633, 0.619, 0.606],
    "b3": [0, 0, 0, 0, 0.030, 0.118, 0.185, 0.239, 0.284, 0.321, 0.354, 0.382,
           0.406, 0.428, 0.448, 0.466, 0.482, 0.497, 0.510, 0.523, 0.534, 0.545, 0.555, 0.565],
    "b4": [3.267, 2.568, 2.266, 2.089, 1.970, 1.882, 1.815, 1.761, 1.716, 1.679, 1.646, 1.618,
           1.594, 1.572, 1.552, 1.534, 1.518, 1.503, 1.490, 1.477, 1.466, 1.455, 1.445, 1.435],
    "b5": [0, 0, 0, 0, 0.029, 0.113, 0.179, 0.232, 0.276, 0.313, 0.346, 0.374,
           0.399, 0.421, 0.440, 0.458, 0.475, 0.490, 0.504, 0.516, 0.528, 0.539, 0.549, 0.559],
    "b6": [2.606, 2.276, 2.088, 1.964, 1.874, 1.806, 1.751, 1.707, 1.669, 1.637, 1.610, 1.585,
           1.563, 1.544, 1.526, 1.511, 1.496, 1.483, 1.470, 1.459, 1.448, 1.438, 1.429, 1.420],
    "d3_factor": [0, 0, 0, 0, 0, 0.076, 0.136, 0.184, 0.223, 0.256, 0.283, 0.307,
                  0.328, 0.347, 0.363, 0.378, 0.391, 0.403, 0.415, 0.425, 0.434, 0.443,
                  0.451, 0.459],
    "d4": [3.267, 2.574, 2.282, 2.114, 2.004, 1.924, 1.864, 1.816, 1.777, 1.744, 1.717, 1.693,
           1.672, 1.653, 1.637, 1.622, 1.608, 1.597, 1.585, 1.575, 1.566, 1.557, 1.548, 1.541],
}  # fmt: skip
# The table rounds to 3 (c4: 4) decimals and derives some factors from already-rounded d2/d3,
# so a difference of up to 1.5 units in the last printed digit is the table's own rounding.
TOLERANCE = {name: (1.5e-4 if name == "c4" else 1.5e-3) for name in TABLE}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_constant_matches_montgomery_appendix_vi(name: str) -> None:
    for n, published in zip(SIZES, TABLE[name], strict=True):
        computed = getattr(control_constants(n), name)
        assert computed == pytest.approx(published, abs=TOLERANCE[name]), f"{name}({n})"


def test_d2_and_d3_of_two_match_closed_forms() -> None:
    # Range of two standard normals is |N(0, 2)|: mean 2/√π, variance 2 - 4/π.
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-10)
    assert d3(2) == pytest.approx(math.sqrt(2 - 4 / math.pi), abs=1e-10)


def test_c4_of_two_matches_closed_form() -> None:
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-12)


@pytest.mark.parametrize(
    "n",
    [
        1,  # a range needs two values
        0,  # no subgroup
        -3,  # negative
    ],
)
def test_sizes_below_two_are_rejected(n: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        d2(n)
