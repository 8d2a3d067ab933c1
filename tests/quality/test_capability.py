"""Capability indices and intervals against Montgomery, *Introduction to Statistical Quality
Control*, ch. 8 (confidence intervals on Cp and Cpk) and independent recomputation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from microfactory.core.errors import ValidationError
from microfactory.quality.capability import (
    anderson_darling,
    bissell_interval,
    chi2_interval,
    process_capability,
)
from microfactory.quality.subgroups import Subgroups


def test_cp_interval_matches_montgomery() -> None:
    # USL = 62, LSL = 38, n = 20, s = 1.75: Ĉp = 24/(6·1.75) = 2.29, 95 %: 1.57 ≤ Cp ≤ 3.01.
    # The book carries the rounded Ĉp = 2.29 into the interval.
    assert round(24 / (6 * 1.75), 2) == 2.29
    interval = chi2_interval(2.29, 19, 0.95)
    assert round(interval.low, 2) == 1.57
    assert round(interval.high, 2) == 3.01


def test_cpk_interval_matches_montgomery() -> None:
    # n = 20, Ĉpk = 1.33: 95 % Bissell interval 0.88 ≤ Cpk ≤ 1.78.
    interval = bissell_interval(1.33, 20, 0.95)
    assert round(interval.low, 2) == 0.88
    assert round(interval.high, 2) == 1.78


def test_piston_ring_capability_uses_rbar_over_d2(piston_rings: np.ndarray) -> None:
    # Montgomery, ch. 6: specs 74.000 ± 0.05, σ̂ = R̄/d2 = 0.023/2.326 ≈ 0.0099, Cp ≈ 1.68
    # (with the rounded R̄); with the unrounded R̄ = 0.02276, Cp = 0.10/(6·0.02276/2.326).
    rows = piston_rings[:25]
    r_bar = float(np.mean(rows.max(axis=1) - rows.min(axis=1)))
    result = process_capability(Subgroups.from_rows(rows), lsl=73.95, usl=74.05)
    assert result.cp == pytest.approx(0.10 / (6 * r_bar / 2.326), rel=5e-4)
    assert result.cp == pytest.approx(1.68, abs=0.03)
    assert result.pp == pytest.approx(0.10 / (6 * rows.std(ddof=1)), rel=1e-12)


def test_indices_from_known_mean_and_sigmas() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.2, 0.5, 200)
    result = process_capability(x, lsl=8.0, usl=12.0, target=10.0)
    s = x.std(ddof=1)
    sigma_w = np.abs(np.diff(x)).mean() / 1.128379
    assert result.cpk == pytest.approx(min(12 - x.mean(), x.mean() - 8) / (3 * sigma_w))
    assert result.ppk == pytest.approx(min(12 - x.mean(), x.mean() - 8) / (3 * s))
    assert result.cpm == pytest.approx(4 / (6 * np.sqrt(s**2 + (x.mean() - 10) ** 2)))
    assert set(result.intervals) == {"cp", "cpk", "pp", "ppk", "cpm"}
    assert result.intervals["cpm"].low < result.cpm < result.intervals["cpm"].high  # type: ignore[operator]


def test_upper_specification_only_gives_cpu_as_cpk() -> None:
    x = np.linspace(9, 11, 40)
    result = process_capability(x, usl=13.0)
    assert result.cp is None and result.pp is None and result.cpm is None
    assert result.cpl is None
    assert result.cpk == result.cpu == pytest.approx((13 - x.mean()) / (3 * result.sigma_within))
    assert "cp" not in result.intervals and "cpk" in result.intervals


def test_anderson_darling_statistic_matches_scipy() -> None:
    x = np.random.default_rng(11).normal(5, 2, 60)
    expected = stats.anderson(x, "norm", method="interpolate").statistic
    assert anderson_darling(x).statistic == pytest.approx(expected, rel=1e-10)


def test_non_normal_data_raise_a_normality_warning() -> None:
    x = np.random.default_rng(5).exponential(1.0, 200)
    result = process_capability(x, lsl=0.0, usl=8.0)
    assert result.normality is not None and not result.normality.normal
    assert any("Anderson" in w for w in result.warnings)


def test_normal_data_pass_the_normality_check() -> None:
    x = stats.norm.ppf((np.arange(1, 101) - 0.5) / 100)  # ideal normal quantiles
    result = process_capability(x, lsl=-4.0, usl=4.0)
    assert result.normality is not None and result.normality.normal
    assert not any("Anderson" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one specification"),  # neither limit
        ({"lsl": 5.0, "usl": 4.0}, "below usl"),  # limits reversed
        ({"lsl": 1.0, "usl": 4.0, "confidence": 1.5}, "confidence"),  # not a probability
        ({"lsl": float("nan"), "usl": 4.0}, "finite"),  # NaN limit
    ],
)
def test_bad_specifications_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        process_capability([1.0, 2.0, 3.0, 2.5], **kwargs)  # type: ignore[arg-type]


def test_constant_data_are_rejected() -> None:
    with pytest.raises(ValidationError, match="sigma is zero"):
        process_capability([2.0] * 10, lsl=1.0, usl=3.0)
