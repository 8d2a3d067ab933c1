"""Tabular CUSUM and EWMA against Montgomery, *Introduction to Statistical Quality Control*,
Examples 9.1 and 9.2: 30 observations (Table 9.1), the first 20 from N(10, 1), the last 10
from N(11, 1); μ0 = 10, σ = 1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microfactory.core.errors import ValidationError
from microfactory.quality.subgroups import Subgroups
from microfactory.quality.time_weighted_charts import cusum_chart, ewma_chart

TABLE_9_1 = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
             9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
             10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52]  # fmt: skip


def individuals(values: list[float]) -> Subgroups:
    return Subgroups.of_size(values, 1)


def test_cusum_first_signals_at_period_29_as_in_example_9_1() -> None:
    result = cusum_chart(individuals(TABLE_9_1), k=0.5, h=5, target=10, sigma=1)
    plus, minus = result.series("cusum-plus"), result.series("cusum-minus")
    assert round(float(plus.points[3]), 2) == 1.16  # C⁺ at period 4
    assert round(float(plus.points[28]), 2) == 5.28  # C⁺ at period 29 exceeds H = 5
    assert next(v.index for v in plus.violations) == 28
    assert minus.violations == ()
    assert float(plus.ucl[0]) == 5.0


def test_cusum_matches_the_recursion() -> None:
    x = np.array(TABLE_9_1)
    expected_plus, expected_minus, cp, cm = [], [], 0.0, 0.0
    for v in x:
        cp = max(0.0, v - 10.5 + cp)
        cm = max(0.0, 9.5 - v + cm)
        expected_plus.append(cp)
        expected_minus.append(cm)
    result = cusum_chart(individuals(TABLE_9_1), target=10, sigma=1)
    assert result.series("cusum-plus").points.tolist() == pytest.approx(expected_plus)
    assert result.series("cusum-minus").points.tolist() == pytest.approx(expected_minus)


def test_ewma_first_values_and_limits_match_example_9_2() -> None:
    result = ewma_chart(individuals(TABLE_9_1), lam=0.1, width=2.7, target=10, sigma=1)
    (z,) = result.charts
    assert float(z.points[0]) == pytest.approx(9.945)
    assert float(z.points[1]) == pytest.approx(9.7495)
    assert round(float(z.ucl[0]), 2) == 10.27
    assert round(float(z.ucl[1]), 2) == 10.36
    assert round(float(z.lcl[0]), 2) == 9.73
    # The limits approach 10 ± 2.7 √(0.1/1.9).
    assert float(z.ucl[-1]) == pytest.approx(10 + 2.7 * math.sqrt(0.1 / 1.9), abs=1e-3)


def test_ewma_asymptotic_limits_are_constant() -> None:
    result = ewma_chart(
        individuals(TABLE_9_1), lam=0.1, width=2.7, target=10, sigma=1, asymptotic=True
    )
    assert result.to_dict()["charts"][0]["ucl"] == pytest.approx(10 + 2.7 * math.sqrt(0.1 / 1.9))  # type: ignore[index]


def test_ewma_estimates_sigma_from_moving_ranges() -> None:
    x = np.array(TABLE_9_1)
    result = ewma_chart(individuals(TABLE_9_1))
    assert result.estimate.center == pytest.approx(x.mean())
    assert result.estimate.sigma == pytest.approx(np.abs(np.diff(x)).mean() / 1.128379, rel=1e-5)


def test_ewma_of_subgroup_means_uses_sigma_over_root_n() -> None:
    rows = np.array(TABLE_9_1).reshape(10, 3)
    result = ewma_chart(Subgroups.from_rows(rows), lam=1.0, width=3.0, target=10, sigma=1)
    # λ = 1 turns the EWMA into a Shewhart chart of the means: limits 10 ± 3/√3.
    (z,) = result.charts
    assert z.points.tolist() == pytest.approx(rows.mean(axis=1).tolist())
    assert float(z.ucl[0]) == pytest.approx(10 + 3 / math.sqrt(3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lam": 0.0}, "lambda"),  # no smoothing weight
        ({"lam": 1.5}, "lambda"),  # weight above one
        ({"width": 0.0}, "L must"),  # zero-width limits
        ({"sigma": -1.0}, "sigma"),  # negative sigma
    ],
)
def test_ewma_rejects_bad_parameters(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ewma_chart(individuals(TABLE_9_1), **kwargs)  # type: ignore[arg-type]
