"""Helpers every chart uses: build a series with its violations, and the Phase I loop.

Phase I (trial limits, Montgomery §6.2.1): estimate the parameters from all subgroups, find
the subgroups whose points fall beyond a control limit on any of the chart's series, drop
them from the estimate, and repeat until no retained subgroup is beyond a limit. The chart
still shows every point; only the estimate ignores the excluded ones. Phase II: limits come
from a frozen :class:`ProcessEstimate` and are never re-estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError
from microfactory.quality.chart_model import ChartSeries, ProcessEstimate
from microfactory.quality.rules import evaluate_rules

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

MIN_RETAINED = 2


def _per_point(value: ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    return arr.astype(np.float64, copy=False)


def make_series(
    name: str,
    points: ArrayLike,
    *,
    center: ArrayLike,
    sigma: ArrayLike,
    ucl: ArrayLike,
    lcl: ArrayLike,
    rules: Iterable[str],
    index_offset: int = 0,
) -> ChartSeries:
    """A series whose violations of ``rules`` are evaluated against its own limits."""
    x = np.asarray(points, dtype=np.float64)
    n = x.shape[0]
    c, s = _per_point(center, n), _per_point(sigma, n)
    up, lo = _per_point(ucl, n), _per_point(lcl, n)
    found = evaluate_rules(x, c, s, rules=tuple(rules), ucl=up, lcl=lo)
    return ChartSeries(
        name=name,
        points=x,
        center=c,
        ucl=up,
        lcl=lo,
        sigma=s,
        violations=tuple(found),
        index_offset=index_offset,
    )


def beyond_limits(series: Iterable[ChartSeries], count: int) -> BoolArray:
    """Subgroups with a point beyond a control limit on any series."""
    out = np.zeros(count, dtype=bool)
    for s in series:
        hit = np.flatnonzero((s.points > s.ucl) | (s.points < s.lcl)) + s.index_offset
        out[hit[hit < count]] = True
    return out


def fit_and_build(
    count: int,
    estimate_from: Callable[[BoolArray], ProcessEstimate],
    build: Callable[[ProcessEstimate], tuple[ChartSeries, ...]],
    *,
    estimate: ProcessEstimate | None,
    exclude_out_of_control: bool,
    exclusion_series: tuple[str, ...] | None = None,
) -> tuple[ProcessEstimate, tuple[ChartSeries, ...], tuple[int, ...]]:
    """Phase II when ``estimate`` is given, else Phase I (iterative when asked).

    ``exclusion_series`` names the series whose out-of-limit points exclude a subgroup
    (default: all of them). Returns the estimate used, the series, and the 0-based indices
    of the excluded subgroups.
    """
    if estimate is not None:
        if exclude_out_of_control:
            raise ValidationError(
                "Phase II monitoring uses frozen limits; do not combine a given estimate "
                "with exclusion of out-of-control subgroups"
            )
        return estimate, build(estimate), ()
    keep = np.ones(count, dtype=bool)
    current = estimate_from(keep)
    series = build(current)
    if exclude_out_of_control:
        for _ in range(count):
            judged = [s for s in series if exclusion_series is None or s.name in exclusion_series]
            out = beyond_limits(judged, count) & keep
            if not out.any():
                break
            candidate = keep & ~out
            if int(candidate.sum()) < MIN_RETAINED:
                break
            keep = candidate
            current = estimate_from(keep)
            series = build(current)
    excluded = tuple(int(i) for i in np.flatnonzero(~keep))
    return current, series, excluded
