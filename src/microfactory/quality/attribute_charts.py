"""Shewhart charts for attributes: p, np, c and u (Montgomery ch. 7).

* p: fraction nonconforming d_i / n_i; p̄ = Σd/Σn; limits p̄ ± 3√(p̄(1-p̄)/n_i), per sample
  when sizes vary.
* np: number nonconforming d_i for one constant n; limits np̄ ± 3√(np̄(1-p̄)).
* c: nonconformities per inspection unit; limits c̄ ± 3√c̄.
* u: nonconformities per unit c_i / n_i; ū = Σc/Σn; limits ū ± 3√(ū/n_i).

Lower limits below zero are set to zero (and a p chart's upper limit above one to one); the
run rules use the unclipped zones of width σ_i.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError
from microfactory.quality.chart_building import fit_and_build, make_series
from microfactory.quality.chart_model import ChartResult, ChartSeries, ProcessEstimate
from microfactory.quality.rules import select_rules
from microfactory.quality.subgroups import as_values

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


def _counts(counts: ArrayLike) -> FloatArray:
    c = as_values(counts, "counts")
    if c.shape[0] == 0:
        raise ValidationError("no samples given")
    negative = np.flatnonzero(c < 0)
    if negative.size:
        raise ValidationError(f"counts[{int(negative[0])}] is negative")
    return c


def _sizes(sizes: ArrayLike, count: int) -> FloatArray:
    n = np.asarray(sizes, dtype=np.float64)
    if n.ndim == 0:
        n = np.full(count, float(n))
    n = as_values(n, "sizes")
    if n.shape[0] != count:
        raise ValidationError(f"{n.shape[0]} sample sizes for {count} samples")
    bad = np.flatnonzero(n <= 0)
    if bad.size:
        raise ValidationError(f"sizes[{int(bad[0])}] must be positive")
    return n


def _check_estimate(estimate: ProcessEstimate | None, chart: str) -> None:
    if estimate is not None and estimate.chart != chart:
        raise ValidationError(f"an estimate for {estimate.chart} cannot drive a {chart} chart")


def _binomial_inputs(counts: ArrayLike, sizes: ArrayLike) -> tuple[FloatArray, FloatArray]:
    d = _counts(counts)
    n = _sizes(sizes, d.shape[0])
    if np.any(n != np.round(n)):
        raise ValidationError("sample sizes of a p or np chart must be whole numbers of units")
    over = np.flatnonzero(d > n)
    if over.size:
        i = int(over[0])
        raise ValidationError(f"counts[{i}] = {d[i]:g} nonconforming exceeds its size {n[i]:g}")
    return d, n


def _one_size(n: FloatArray) -> int | None:
    return int(n[0]) if np.all(n == n[0]) and float(n[0]).is_integer() else None


def p_chart(
    counts: ArrayLike,
    sizes: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Fraction nonconforming; ``counts`` are nonconforming units out of ``sizes`` inspected."""
    _check_estimate(estimate, "p")
    d, n = _binomial_inputs(counts, sizes)
    chosen = select_rules(rules)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        return ProcessEstimate(
            "p", float(d[keep].sum() / n[keep].sum()), None, None, int(keep.sum())
        )

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        p = est.center
        sigma = np.sqrt(p * (1.0 - p) / n)
        return (
            make_series(
                "p",
                d / n,
                center=p,
                sigma=sigma,
                ucl=np.minimum(1.0, p + 3 * sigma),
                lcl=np.maximum(0.0, p - 3 * sigma),
                rules=chosen,
            ),
        )

    est, series, excluded = fit_and_build(
        d.shape[0],
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("p", _one_size(n), series, est, excluded, chosen)


def np_chart(
    counts: ArrayLike,
    size: int,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Number nonconforming in samples of one constant ``size``."""
    _check_estimate(estimate, "np")
    sizes = np.asarray(size, dtype=np.float64)
    if sizes.ndim != 0 and not np.all(sizes == sizes.reshape(-1)[0]):
        raise ValidationError("an np chart needs one constant sample size; use a p chart")
    d, n = _binomial_inputs(counts, sizes.reshape(-1)[0] if sizes.ndim else sizes)
    size_n = float(n[0])
    chosen = select_rules(rules)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        return ProcessEstimate(
            "np", float(d[keep].sum() / n[keep].sum()), None, None, int(keep.sum())
        )

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        p = est.center
        center = size_n * p
        sigma = float(np.sqrt(size_n * p * (1.0 - p)))
        return (
            make_series(
                "np",
                d,
                center=center,
                sigma=sigma,
                ucl=min(size_n, center + 3 * sigma),
                lcl=max(0.0, center - 3 * sigma),
                rules=chosen,
            ),
        )

    est, series, excluded = fit_and_build(
        d.shape[0],
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("np", int(size_n), series, est, excluded, chosen)


def c_chart(
    counts: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Nonconformities counted on equal inspection units."""
    _check_estimate(estimate, "c")
    c = _counts(counts)
    chosen = select_rules(rules)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        return ProcessEstimate("c", float(c[keep].mean()), None, None, int(keep.sum()))

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sigma = float(np.sqrt(est.center))
        return (
            make_series(
                "c",
                c,
                center=est.center,
                sigma=sigma,
                ucl=est.center + 3 * sigma,
                lcl=max(0.0, est.center - 3 * sigma),
                rules=chosen,
            ),
        )

    est, series, excluded = fit_and_build(
        c.shape[0],
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("c", 1, series, est, excluded, chosen)


def u_chart(
    counts: ArrayLike,
    sizes: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    estimate: ProcessEstimate | None = None,
    exclude_out_of_control: bool = False,
) -> ChartResult:
    """Nonconformities per unit; ``sizes`` are inspection units per sample (may be fractional)."""
    _check_estimate(estimate, "u")
    c = _counts(counts)
    n = _sizes(sizes, c.shape[0])
    chosen = select_rules(rules)

    def estimate_from(keep: BoolArray) -> ProcessEstimate:
        return ProcessEstimate(
            "u", float(c[keep].sum() / n[keep].sum()), None, None, int(keep.sum())
        )

    def build(est: ProcessEstimate) -> tuple[ChartSeries, ...]:
        sigma = np.sqrt(est.center / n)
        return (
            make_series(
                "u",
                c / n,
                center=est.center,
                sigma=sigma,
                ucl=est.center + 3 * sigma,
                lcl=np.maximum(0.0, est.center - 3 * sigma),
                rules=chosen,
            ),
        )

    est, series, excluded = fit_and_build(
        c.shape[0],
        estimate_from,
        build,
        estimate=estimate,
        exclude_out_of_control=exclude_out_of_control,
    )
    return ChartResult("u", _one_size(n), series, est, excluded, chosen)
