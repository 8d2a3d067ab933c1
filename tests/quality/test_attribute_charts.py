"""p, np, c and u charts against Montgomery, *Introduction to Statistical Quality Control*,
chapter 7 (data as distributed with the R package qcc: orangejuice, circuit, pcmanufact,
dyedcloth)."""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.core.errors import ValidationError
from microfactory.quality.attribute_charts import c_chart, np_chart, p_chart, u_chart
from microfactory.quality.charts import control_chart

# Example 7.1: frozen orange-juice cans, 30 samples of 50, nonconforming counts.
ORANGE_JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]  # fmt: skip
# Example 7.3: nonconformities in 26 samples of 100 printed circuit boards.
CIRCUIT = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13,
           22, 18, 39, 30, 24, 16, 19, 17, 15]  # fmt: skip
# Ch. 7 u-chart example: nonconformities in 20 samples of 5 personal computers.
PC_MANUFACTURE = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]
# Ch. 7 u chart with variable sample size: dyed cloth, nonconformities per roll and the
# roll size in inspection units of 50 m².
DYED_CLOTH = [14, 12, 20, 11, 7, 10, 21, 16, 19, 23]
DYED_CLOTH_UNITS = [10, 8, 13, 10, 9.5, 10, 12, 10.5, 12, 12.5]


def beyond(series: object) -> list[int]:
    return [v.index for v in series.violations if v.rule == "nelson-1"]  # type: ignore[attr-defined]


def test_p_chart_trial_limits_match_example_7_1() -> None:
    (p,) = p_chart(ORANGE_JUICE, 50).charts
    assert float(p.center[0]) == pytest.approx(0.2313, abs=5e-5)
    assert float(p.ucl[0]) == pytest.approx(0.4102, abs=5e-5)
    assert float(p.lcl[0]) == pytest.approx(0.0524, abs=5e-5)
    assert beyond(p) == [14, 22]  # samples 15 and 23


def test_p_chart_revised_limits_match_example_7_1() -> None:
    # Samples 15 and 23 have assignable causes; without them p̄ = 0.2150, 0.0407 .. 0.3893.
    kept = [d for i, d in enumerate(ORANGE_JUICE) if i not in (14, 22)]
    (p,) = p_chart(kept, 50).charts
    assert float(p.center[0]) == pytest.approx(0.2150, abs=5e-5)
    assert float(p.ucl[0]) == pytest.approx(0.3893, abs=5e-5)
    assert float(p.lcl[0]) == pytest.approx(0.0407, abs=5e-5)


def test_p_chart_iterative_exclusion_also_drops_sample_21() -> None:
    # Montgomery notes sample 21 (p = 0.40) exceeds the revised UCL 0.3893 but keeps it for
    # lack of an assignable cause; automatic Phase I exclusion drops it in a second round.
    result = p_chart(ORANGE_JUICE, 50, exclude_out_of_control=True)
    assert result.excluded == (14, 20, 22)
    assert result.estimate.center == pytest.approx((347 - 22 - 24 - 20) / 1350)


def test_np_chart_limits_are_n_times_p_chart_limits() -> None:
    (p,) = p_chart(ORANGE_JUICE, 50).charts
    (np_series,) = np_chart(ORANGE_JUICE, 50).charts
    assert float(np_series.ucl[0]) == pytest.approx(50 * float(p.ucl[0]))
    assert float(np_series.lcl[0]) == pytest.approx(50 * float(p.lcl[0]))
    assert beyond(np_series) == [14, 22]


def test_p_chart_with_varying_sizes_has_per_sample_limits() -> None:
    counts, sizes = [3, 8, 5, 2], [50, 100, 80, 40]
    p_bar = sum(counts) / sum(sizes)
    result = p_chart(counts, sizes)
    (p,) = result.charts
    expected = [p_bar + 3 * np.sqrt(p_bar * (1 - p_bar) / n) for n in sizes]
    assert p.ucl.tolist() == pytest.approx(expected)
    assert result.subgroup_size is None
    assert isinstance(result.to_dict()["charts"][0]["ucl"], list)  # type: ignore[index]


def test_p_chart_accepts_fractions_through_the_dispatcher() -> None:
    fractions = [d / 50 for d in ORANGE_JUICE]
    (p,) = control_chart("p", fractions, subgroup_size=50).charts
    assert float(p.ucl[0]) == pytest.approx(0.4102, abs=5e-5)


def test_c_chart_matches_example_7_3() -> None:
    (c,) = c_chart(CIRCUIT).charts
    assert float(c.center[0]) == pytest.approx(19.85, abs=5e-3)
    assert float(c.ucl[0]) == pytest.approx(33.22, abs=0.015)  # book rounds c̄ first
    assert float(c.lcl[0]) == pytest.approx(6.48, abs=5e-3)
    assert beyond(c) == [5, 19]  # samples 6 and 20


def test_c_chart_revised_limits_match_example_7_3() -> None:
    result = c_chart(CIRCUIT, exclude_out_of_control=True)
    (c,) = result.charts
    assert result.excluded == (5, 19)
    assert float(c.center[0]) == pytest.approx(19.67, abs=5e-3)
    assert float(c.ucl[0]) == pytest.approx(32.97, abs=5e-3)
    assert float(c.lcl[0]) == pytest.approx(6.36, abs=5e-3)


def test_u_chart_matches_personal_computer_example() -> None:
    (u,) = u_chart(PC_MANUFACTURE, 5).charts
    assert float(u.center[0]) == pytest.approx(1.93)
    assert float(u.ucl[0]) == pytest.approx(3.79, abs=5e-3)
    assert float(u.lcl[0]) == pytest.approx(0.07, abs=5e-3)
    assert beyond(u) == []


def test_u_chart_with_varying_sizes_matches_dyed_cloth_example() -> None:
    (u,) = u_chart(DYED_CLOTH, DYED_CLOTH_UNITS).charts
    assert float(u.center[0]) == pytest.approx(153 / 107.5)
    # Rolls of 10 units: 1.42 ± 3 √(1.42/10) = 0.29 .. 2.55.
    assert float(u.ucl[0]) == pytest.approx(2.55, abs=6e-3)
    assert float(u.lcl[0]) == pytest.approx(0.29, abs=6e-3)
    assert float(u.ucl[1]) > float(u.ucl[0])  # the 8-unit roll has wider limits


@pytest.mark.parametrize(
    ("counts", "sizes", "message"),
    [
        ([3, 60], [50, 50], "exceeds its size"),  # more nonconforming than inspected
        ([3, -1], [50, 50], "negative"),  # a count below zero
        ([3, 1], [50, 0], "positive"),  # an empty sample
        ([3, 1], [50, 49.5], "whole numbers"),  # half a unit inspected
    ],
)
def test_p_chart_rejects_bad_samples(counts: list[float], sizes: list[float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        p_chart(counts, sizes)
