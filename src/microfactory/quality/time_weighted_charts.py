"""Time-weighted charts for small shifts: EWMA and the tabular (two-sided) CUSUM.

Both work on individual values (subgroup size 1) or on subgroup means (equal size n >= 2).
μ0 is the given target or the mean of the data; σ is the given sigma or, estimated, MR̄/d2(2)
for individuals and R̄/d2(n) for subgroups. The plotted statistic's σ is σ/√n.

* EWMA (Montgomery §9.2): z_i = λ x_i + (1-λ) z_(i-1), z_0 = μ0; limits
  μ0 ± L σ √(λ/(2-λ) · (1 - (1-λ)^(2i))) (exact, time-varying; ``asymptotic=True`` drops the
  bracket). Defaults λ = 0.2, L = 3.
* CUSUM (Montgomery §9.1): C⁺_i = max(0, x_i - (μ0 + K) + C⁺_(i-1)), C⁻_i = max(0,
  (μ0 - K) - x_i + C⁻_(i-1)), C_0 = 0, K = kσ, H = hσ; signal when C > H. Defaults k = 0.5,
  h = 5. Both sums are plotted as non-negative series ``cusum-plus`` and ``cusum-minus`` with
  ``ucl`` = H and ``lcl`` = 0.

Only "beyond a limit" applies: successive EWMA and CUSUM values are correlated, so run
rules would be meaningless. It is reported as ``nelson-1`` (``we-1`` with Western Electric).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from microfactory.core.errors import ValidationError
from microfactory.quality.chart_building import fit_and_build, make_series
from microfactory.quality.chart_model import ChartResult, ChartSeries, ProcessEstimate
from microfactory.quality.constants import MAX_SIZE, d2
from microfactory.quality.rules import limit_rule, select_rules
from microfactory.quality.subgroups import Subgroups
from microfactory.quality.variables_charts import moving_ranges

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


def _statistics(data: Subgroups) -> tuple[int, FloatArray, FloatArray]:
    """(n, plotted values, spread per point: moving ranges for n = 1 else ranges)."""
    if not data.equal_sizes:
        raise ValidationError("EWMA and CUSUM need equal subgroup sizes")
    n = int(data.sizes[0])
    if n > MAX_SIZE:
        raise ValidationError(f"subgroup size must be at most {MAX_SIZE}, got {n}")
    if n == 1:
        if data.count < 2:
            raise ValidationError("at least 2 values are needed to estimate sigma")
        return n, data.values, moving_ranges(data.values)
    return n, data.means(), data.ranges()


def _estimator(
    chart: str,
    n: int,
    x: FloatArray,
    spread: FloatArray,
    target: float | None,
    sigma: float | None,
) -> object:
    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        center = float(x[keep].mean()) if target is None else float(target)
        if sigma is not None:
            sig = float(sigma)
        elif n == 1:
            pair = keep[1:] & keep[:-1]
            if not pair.any():
                raise ValidationError("no two consecutive retained values to estimate sigma")
            sig = float(spread[pair].mean()) / d2(2)
        else:
            sig = float(spread[keep].mean()) / d2(n)
        return ProcessEstimate(chart, center, sig, subgroups_used=int(keep.sum()))

    return estimate_from


def _check(
    estimate: ProcessEstimate | None, chart: str, sigma: float | None, target: float | None
) -> None:
    if estimate is not None and estimate.chart != chart:
        raise ValidationError(f"an estimate for {estimate.chart} cannot drive a {chart} chart")
    if sigma is not None and not (math.isfinite(sigma) and sigma > 0):
        raise ValidationError("sigma must be a positive number")
    if target is not None and not math.isfinite(target):
        raise ValidationError("target must be a finite number")


def ewma_chart(
    data: Subgroups,
    *,
    lam: float = 0.2,
    width: float = 3.0,
    target: float | None = None,
    sigma: float | None = None,
    asymptotic: bool = False,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """EWMA chart with smoothing ``lam`` (λ in (0, 1]) and limit width ``width`` (L)."""
    _check(estimate, "ewma", sigma, target)
    if not 0.0 < lam <= 1.0:
        raise ValidationError(f"lambda must be in (0, 1], got {lam}")
    if not width > 0:
        raise ValidationError(f"L must be positive, got {width}")
    n, x, spread = _statistics(data)
    chosen = select_rules(rules)
    steps = np.arange(1, x.shape[0] + 1, dtype=np.float64)
    if asymptotic:
        factor = np.full(x.shape[0], math.sqrt(lam / (2.0 - lam)))
    else:
        factor = np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2.0 * steps)))

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sig = (est.sigma or 0.0) / math.sqrt(n)
        z, _ = signal.lfilter([lam], [1.0, -(1.0 - lam)], x, zi=[(1.0 - lam) * est.center])
        zone = sig * factor
        return (
            make_series(
                "ewma",
                z,
                center=est.center,
                sigma=zone,
                ucl=est.center + width * zone,
                lcl=est.center - width * zone,
                rules=limit_rule(chosen),
            ),
        )

    est, series, excluded = fit_and_build(
        x.shape[0],
        _estimator("ewma", n, x, spread, target, sigma),  # type: ignore[arg-type]
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("ewma", n, series, est, excluded, chosen)


def _upper_cusum(y: FloatArray) -> FloatArray:
    """C_i = max(0, C_(i-1) + y_i), C_0 = 0, as S_i - min(0, min_(j<=i) S_j) (Lindley)."""
    s = np.cumsum(y)
    return np.asarray(s - np.minimum(0.0, np.minimum.accumulate(s)), dtype=np.float64)


def cusum_chart(
    data: Subgroups,
    *,
    k: float = 0.5,
    h: float = 5.0,
    target: float | None = None,
    sigma: float | None = None,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Tabular CUSUM with reference value K = kσ and decision interval H = hσ."""
    _check(estimate, "cusum", sigma, target)
    if k < 0 or not h > 0:
        raise ValidationError("k must not be negative and h must be positive")
    n, x, spread = _statistics(data)
    chosen = select_rules(rules)

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sig = (est.sigma or 0.0) / math.sqrt(n)
        big_k, big_h = k * sig, h * sig
        plus = _upper_cusum(x - (est.center + big_k))
        minus = _upper_cusum((est.center - big_k) - x)
        return tuple(
            make_series(
                name,
                values,
                center=0.0,
                sigma=big_h / 3.0,
                ucl=big_h,
                lcl=0.0,
                rules=limit_rule(chosen),
            )
            for name, values in (("cusum-plus", plus), ("cusum-minus", minus))
        )

    est, series, excluded = fit_and_build(
        x.shape[0],
        _estimator("cusum", n, x, spread, target, sigma),  # type: ignore[arg-type]
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("cusum", n, series, est, excluded, chosen)
