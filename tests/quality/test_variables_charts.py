"""X̄-R, X̄-S and I-MR charts against Montgomery's piston-ring example and recomputation.

Montgomery, *Introduction to Statistical Quality Control*, Example 6.1 (X̄ and R charts for
the piston-ring inside diameter, 25 samples of n = 5): x̄̄ = 74.001, R̄ = 0.023,
X̄ limits 73.988 .. 74.014, both charts in control. Samples 26-40 (Table 6.4) monitored with
those frozen limits. The R package qcc prints the same limits unrounded (73.98805, 74.01431).
"""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.core.errors import ValidationError
from microfactory.quality.chart_model import ProcessEstimate
from microfactory.quality.subgroups import Subgroups
from microfactory.quality.variables_charts import imr_chart, xbar_r_chart, xbar_s_chart

A2_5, D4_5 = 0.577, 2.114  # Appendix VI, n = 5
A3_5, B4_5 = 1.427, 2.089


def rule_points(series: object, rule: str) -> list[int]:
    return [v.index for v in series.violations if v.rule == rule]  # type: ignore[attr-defined]


def test_xbar_r_phase_one_matches_montgomery_example_6_1(piston_rings: np.ndarray) -> None:
    result = xbar_r_chart(Subgroups.from_rows(piston_rings[:25]))
    xbar, r = result.series("xbar"), result.series("r")
    assert round(float(xbar.center[0]), 3) == 74.001
    assert round(float(r.center[0]), 3) == 0.023
    assert float(xbar.ucl[0]) == pytest.approx(74.01431, abs=1e-5)
    assert float(xbar.lcl[0]) == pytest.approx(73.98805, abs=1e-5)
    assert rule_points(xbar, "nelson-1") == [] and rule_points(r, "nelson-1") == []


def test_xbar_r_limits_equal_table_factors_times_rbar(piston_rings: np.ndarray) -> None:
    rows = piston_rings[:25]
    r_bar = float(np.mean(rows.max(axis=1) - rows.min(axis=1)))
    result = xbar_r_chart(Subgroups.from_rows(rows))
    assert float(result.series("xbar").ucl[0]) == pytest.approx(
        rows.mean() + A2_5 * r_bar, abs=5e-4 * r_bar
    )
    assert float(result.series("r").ucl[0]) == pytest.approx(D4_5 * r_bar, abs=5e-4 * r_bar)
    assert float(result.series("r").lcl[0]) == 0.0


def test_xbar_r_phase_two_flags_samples_37_to_39(piston_rings: np.ndarray) -> None:
    phase_one = xbar_r_chart(Subgroups.from_rows(piston_rings[:25]))
    monitor = xbar_r_chart(Subgroups.from_rows(piston_rings[25:]), estimate=phase_one.estimate)
    # Sample means of 37, 38, 39 (74.0166, 74.0196, 74.0234) exceed UCL 74.0143.
    assert rule_points(monitor.series("xbar"), "nelson-1") == [11, 12, 13]
    assert float(monitor.series("xbar").ucl[0]) == float(phase_one.series("xbar").ucl[0])


def test_xbar_s_limits_equal_table_factors_times_sbar(piston_rings: np.ndarray) -> None:
    # Montgomery Example 6.3 (X̄ and S charts for the same data): limits 73.988 .. 74.014.
    rows = piston_rings[:25]
    s_bar = float(rows.std(axis=1, ddof=1).mean())
    result = xbar_s_chart(Subgroups.from_rows(rows))
    xbar, s = result.series("xbar"), result.series("s")
    assert round(float(xbar.ucl[0]), 3) == 74.014 and round(float(xbar.lcl[0]), 3) == 73.988
    assert float(xbar.ucl[0]) - float(xbar.center[0]) == pytest.approx(A3_5 * s_bar, rel=5e-4)
    assert float(s.ucl[0]) == pytest.approx(B4_5 * s_bar, rel=5e-4)
    assert float(s.center[0]) == pytest.approx(s_bar, rel=1e-12)


def test_xbar_s_with_varying_sizes_uses_pooled_sbar_and_per_subgroup_factors() -> None:
    rows = [
        [10.0, 12.0, 11.0],
        [9.0, 11.0, 10.0, 12.0, 13.0],
        [10.5, 11.5],
        [12.0, 10.0, 11.0, 9.0],
    ]
    sizes = np.array([len(r) for r in rows])
    stds = np.array([np.std(r, ddof=1) for r in rows])
    s_pooled = np.sqrt(np.sum((sizes - 1) * stds**2) / np.sum(sizes - 1))
    grand = np.sum([np.sum(r) for r in rows]) / sizes.sum()
    a3 = {2: 2.659, 3: 1.954, 4: 1.628, 5: 1.427}  # Appendix VI
    result = xbar_s_chart(Subgroups.from_rows(rows))
    xbar = result.series("xbar")
    assert float(xbar.center[0]) == pytest.approx(grand)
    for i, n in enumerate(sizes):
        assert float(xbar.ucl[i]) == pytest.approx(grand + a3[int(n)] * s_pooled, rel=1e-3)
    assert isinstance(result.to_dict()["charts"][0]["ucl"], list)  # type: ignore[index]


def test_imr_limits_on_hand_computed_example() -> None:
    # x = 1, 3, 2, 6, 4: MR = 2, 1, 4, 2; MR̄ = 2.25; σ = MR̄/1.128; D4(2) = 3.267.
    result = imr_chart([1.0, 3.0, 2.0, 6.0, 4.0])
    i, mr = result.series("i"), result.series("mr")
    assert float(i.center[0]) == pytest.approx(3.2)
    assert float(i.ucl[0]) == pytest.approx(3.2 + 3 * 2.25 / 1.128, rel=1e-3)
    assert float(mr.center[0]) == pytest.approx(2.25)
    assert float(mr.ucl[0]) == pytest.approx(3.267 * 2.25, rel=1e-3)
    assert mr.index_offset == 1 and mr.points.tolist() == [2.0, 1.0, 4.0, 2.0]


def test_imr_phase_one_exclusion_drops_the_outlier_and_its_moving_ranges() -> None:
    base = [10.0, 10.2, 9.9, 10.1, 9.8, 10.0, 10.3, 9.9, 10.1, 10.0]
    values = [*base[:5], 14.0, *base[5:]]
    result = imr_chart(values, exclude_out_of_control=True)
    assert result.excluded == (5,)
    kept = np.array(base)
    assert result.estimate.center == pytest.approx(kept.mean())
    # Moving ranges touching index 5 are not used: pairs (0,1)..(3,4) and (6,7)..(9,10).
    ranges = np.abs(np.diff(base[:5])).tolist() + np.abs(np.diff(base[5:])).tolist()
    assert result.estimate.sigma == pytest.approx(np.mean(ranges) / 1.128379, rel=1e-5)
    assert 5 in [v.index for v in result.series("i").violations if v.rule == "nelson-1"]


def test_phase_two_estimate_reproduces_phase_one_limits(piston_rings: np.ndarray) -> None:
    data = Subgroups.from_rows(piston_rings[:25])
    first = xbar_s_chart(data)
    again = xbar_s_chart(data, estimate=first.estimate)
    assert np.array_equal(first.series("xbar").ucl, again.series("xbar").ucl)
    assert np.array_equal(first.series("s").ucl, again.series("s").ucl)


def test_frozen_estimate_cannot_be_combined_with_exclusion() -> None:
    estimate = ProcessEstimate("imr", 0.0, 1.0)
    with pytest.raises(ValidationError, match="frozen"):
        imr_chart([0.0, 1.0, 2.0], estimate=estimate, exclude_out_of_control=True)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 2.0], [1.0, 2.0, 3.0]], "equal subgroup sizes"),  # X̄-R needs one size
        ([[1.0], [2.0]], "from 2 to 25"),  # a range needs two values
        ([list(range(26))], "from 2 to 25"),  # beyond the constants' table
    ],
)
def test_xbar_r_rejects_bad_subgroups(rows: list[list[float]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        xbar_r_chart(Subgroups.from_rows(rows))


def test_estimate_for_another_chart_is_rejected() -> None:
    with pytest.raises(ValidationError, match="cannot drive"):
        imr_chart([1.0, 2.0, 3.0], estimate=ProcessEstimate("c", 3.0))
