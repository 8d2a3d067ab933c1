"""Shewhart charts for variables: X̄-R, X̄-S and individuals / moving range (I-MR).

Formulas follow Montgomery, *Introduction to Statistical Quality Control*, ch. 6:

* X̄-R (equal subgroup size n, 2..25): σ̂ = R̄/d2; X̄ limits x̄̄ ± A2 R̄; R limits D3 R̄, D4 R̄.
* X̄-S (any sizes >= 2): s̄ = mean of s_i for equal sizes, else the pooled
  √(Σ(n_i-1)s_i² / Σ(n_i-1)); X̄ limits x̄̄ ± A3(n_i) s̄; S limits B3(n_i) s̄, B4(n_i) s̄.
  x̄̄ is the size-weighted grand mean.
* I-MR: MR_k = |x_(k+1) - x_k|; σ̂ = MR̄/d2(2); I limits x̄ ± 3σ̂; MR limits 0, D4(2) MR̄.
  In Phase I exclusion, individuals beyond the I-chart limits are dropped (a single spike
  makes two large moving ranges, only one of which is its fault), and moving ranges that
  touch an excluded observation are left out of MR̄.

The selected run rules apply to the location chart (X̄ or I); the dispersion chart (R, S,
MR) is checked for points beyond its limits only, because its zones are not symmetric and
consecutive moving ranges are correlated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError
from microfactory.quality.chart_building import fit_and_build, make_series
from microfactory.quality.chart_model import ChartResult, ChartSeries, ProcessEstimate
from microfactory.quality.constants import MAX_SIZE, c4, control_constants, d2, d3
from microfactory.quality.rules import limit_rule, select_rules
from microfactory.quality.subgroups import Subgroups, as_values

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


def _need_sigma(estimate: ProcessEstimate) -> float:
    if estimate.sigma is None:
        raise ValidationError(f"a {estimate.chart} estimate needs a process sigma")
    return estimate.sigma


def _check_estimate(estimate: ProcessEstimate | None, chart: str) -> None:
    if estimate is not None and estimate.chart != chart:
        raise ValidationError(f"an estimate for {estimate.chart} cannot drive a {chart} chart")


def xbar_r_chart(
    data: Subgroups,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """X̄ and R charts for subgroups of one size n in 2..25."""
    _check_estimate(estimate, "xbar-r")
    if not data.equal_sizes:
        raise ValidationError("xbar-r needs equal subgroup sizes; use xbar-s for varying sizes")
    n = int(data.sizes[0])
    if not 2 <= n <= MAX_SIZE:
        raise ValidationError(f"xbar-r needs a subgroup size from 2 to {MAX_SIZE}, got {n}")
    chosen = select_rules(rules)
    means, ranges = data.means(), data.ranges()
    k = control_constants(n)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        r_bar = float(ranges[keep].mean())
        return ProcessEstimate(
            "xbar-r", float(means[keep].mean()), r_bar / k.d2, subgroups_used=int(keep.sum())
        )

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sigma = _need_sigma(est)
        s_mean = sigma / math.sqrt(n)
        xbar = make_series(
            "xbar",
            means,
            center=est.center,
            sigma=s_mean,
            ucl=est.center + 3 * s_mean,
            lcl=est.center - 3 * s_mean,
            rules=chosen,
        )
        r = make_series(
            "r",
            ranges,
            center=k.d2 * sigma,
            sigma=k.d3 * sigma,
            ucl=k.d2_factor * sigma,
            lcl=k.d1 * sigma,
            rules=limit_rule(chosen),
        )
        return xbar, r

    est, series, excluded = fit_and_build(
        data.count,
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("xbar-r", n, series, est, excluded, chosen)


def _c4_array(sizes: NDArray[np.int64]) -> FloatArray:
    table = {int(v): c4(int(v)) for v in np.unique(sizes)}
    return np.array([table[int(v)] for v in sizes], dtype=np.float64)


def xbar_s_chart(
    data: Subgroups,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """X̄ and S charts; subgroup sizes may vary (each at least 2)."""
    _check_estimate(estimate, "xbar-s")
    if np.any(data.sizes < 2):
        raise ValidationError("xbar-s needs every subgroup to have at least 2 values")
    chosen = select_rules(rules)
    sizes = data.sizes
    means, stds = data.means(), data.stds()
    c4s = _c4_array(sizes)
    equal = data.equal_sizes

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        n_k = sizes[keep]
        grand = float(np.sum(n_k * means[keep]) / np.sum(n_k))
        if equal:
            s_bar = float(stds[keep].mean())
        else:
            s_bar = math.sqrt(float(np.sum((n_k - 1) * stds[keep] ** 2) / np.sum(n_k - 1)))
        sigma = float(np.mean(s_bar / c4s[keep]))
        return ProcessEstimate("xbar-s", grand, sigma, s_bar, int(keep.sum()))

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        if est.s_bar is not None:
            sigma_i = est.s_bar / c4s
        else:
            sigma_i = np.full(sizes.shape[0], _need_sigma(est))
        s_mean = sigma_i / np.sqrt(sizes)
        xbar = make_series(
            "xbar",
            means,
            center=est.center,
            sigma=s_mean,
            ucl=est.center + 3 * s_mean,
            lcl=est.center - 3 * s_mean,
            rules=chosen,
        )
        s_sigma = sigma_i * np.sqrt(1.0 - c4s * c4s)
        s_center = c4s * sigma_i
        s = make_series(
            "s",
            stds,
            center=s_center,
            sigma=s_sigma,
            ucl=s_center + 3 * s_sigma,
            lcl=np.maximum(0.0, s_center - 3 * s_sigma),
            rules=limit_rule(chosen),
        )
        return xbar, s

    est, series, excluded = fit_and_build(
        data.count,
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    size = int(sizes[0]) if equal else None
    return ChartResult("xbar-s", size, series, est, excluded, chosen)


def moving_ranges(values: FloatArray) -> FloatArray:
    """|x_(k+1) - x_k| for k = 0 .. len-2."""
    return np.abs(np.diff(values))


def imr_chart(
    values: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Individuals and moving-range charts (moving range of span 2)."""
    _check_estimate(estimate, "imr")
    x = as_values(values)
    if x.shape[0] < 2:
        raise ValidationError("an I-MR chart needs at least 2 values")
    chosen = select_rules(rules)
    mr = moving_ranges(x)
    dd2, dd3 = d2(2), d3(2)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        pair = keep[1:] & keep[:-1]
        if not pair.any():
            raise ValidationError("no two consecutive retained values to form a moving range")
        mr_bar = float(mr[pair].mean())
        return ProcessEstimate(
            "imr", float(x[keep].mean()), mr_bar / dd2, subgroups_used=int(keep.sum())
        )

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sigma = _need_sigma(est)
        i_series = make_series(
            "i",
            x,
            center=est.center,
            sigma=sigma,
            ucl=est.center + 3 * sigma,
            lcl=est.center - 3 * sigma,
            rules=chosen,
        )
        mr_series = make_series(
            "mr",
            mr,
            center=dd2 * sigma,
            sigma=dd3 * sigma,
            ucl=(dd2 + 3 * dd3) * sigma,
            lcl=max(0.0, dd2 - 3 * dd3) * sigma,
            rules=limit_rule(chosen),
            index_offset=1,
        )
        return i_series, mr_series

    est, series, excluded = fit_and_build(
        x.shape[0],
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
        exclusion_series=("i",),
    )
    return ChartResult("imr", 1, series, est, excluded, chosen)
