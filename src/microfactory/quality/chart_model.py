"""Result types shared by every control chart, and their JSON form.

A chart type (``xbar-r``, ``imr``, ``p`` ...) produces a :class:`ChartResult` holding one or
two :class:`ChartSeries` (``xbar`` + ``r``, ``i`` + ``mr``, ``cusum-plus`` + ``cusum-minus``
...). Limits are stored per point so that charts with varying subgroup sizes (p, u, X̄-S) and
time-varying limits (EWMA) share one shape; :meth:`ChartSeries.to_dict` writes a scalar when
a limit is constant and a list when it varies.

A :class:`ProcessEstimate` is what Phase I learns and Phase II freezes: the centre and the
process standard deviation (variables charts) or the mean rate (attribute charts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from microfactory.quality.rules import Violation

FloatArray = NDArray[np.float64]

CHART_TYPES: tuple[str, ...] = (
    "xbar-r",
    "xbar-s",
    "imr",
    "p",
    "np",
    "c",
    "u",
    "ewma",
    "cusum",
)


@dataclass(frozen=True)
class ProcessEstimate:
    """Parameters behind a chart's limits; pass one back in to monitor new data (Phase II).

    ``center``: process mean (variables charts, EWMA, CUSUM), p̄ (p, np), c̄ (c) or ū (u).
    ``sigma``: process standard deviation for variables charts, EWMA and CUSUM; None for
    attribute charts. ``s_bar``: for X̄-S only, the S-chart centre line s̄; subgroup i then
    uses σ_i = s̄ / c4(n_i) (Montgomery §6.3.2, which also covers varying sizes).
    ``subgroups_used``: how many subgroups (or individuals) the estimate came from.
    """

    chart: str
    center: float
    sigma: float | None = None
    s_bar: float | None = None
    subgroups_used: int = 0

    def __post_init__(self) -> None:
        if self.chart not in CHART_TYPES:
            raise ValueError(f"unknown chart type {self.chart!r}")
        if not math.isfinite(self.center):
            raise ValueError("estimate centre must be finite")
        if self.sigma is not None and (not math.isfinite(self.sigma) or self.sigma < 0):
            raise ValueError("estimate sigma must be finite and not negative")
        if self.s_bar is not None and (not math.isfinite(self.s_bar) or self.s_bar < 0):
            raise ValueError("estimate s_bar must be finite and not negative")

    def to_dict(self) -> dict[str, object]:
        return {
            "chart": self.chart,
            "center": self.center,
            "sigma": self.sigma,
            "s_bar": self.s_bar,
            "subgroups_used": self.subgroups_used,
        }


def _scalar_or_list(values: FloatArray) -> float | list[float]:
    if values.size and np.all(values == values[0]):
        return float(values[0])
    return [float(v) for v in values]


@dataclass(frozen=True)
class ChartSeries:
    """One plotted statistic with its per-point centre, limits and zone sigma.

    ``index_offset``: the observation (or subgroup) that ``points[k]`` belongs to is
    ``k + index_offset`` (1 for a moving-range chart, whose first range needs two values).
    Violation indices are positions in ``points`` (0-based).
    """

    name: str
    points: FloatArray
    center: FloatArray
    ucl: FloatArray
    lcl: FloatArray
    sigma: FloatArray
    violations: tuple[Violation, ...] = ()
    index_offset: int = 0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "center": _scalar_or_list(self.center),
            "ucl": _scalar_or_list(self.ucl),
            "lcl": _scalar_or_list(self.lcl),
            "points": [float(v) for v in self.points],
            "violations": [v.to_dict() for v in self.violations],
        }
        if self.index_offset:
            out["index_offset"] = self.index_offset
        return out


@dataclass(frozen=True)
class ChartResult:
    """A whole chart: its series, the estimate behind its limits, and Phase I exclusions."""

    chart: str
    subgroup_size: int | None
    charts: tuple[ChartSeries, ...]
    estimate: ProcessEstimate
    excluded: tuple[int, ...] = ()
    rules: tuple[str, ...] = field(default=())

    def series(self, name: str) -> ChartSeries:
        for s in self.charts:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def violations(self) -> list[tuple[str, Violation]]:
        """(series name, violation) for every series, in series order."""
        return [(s.name, v) for s in self.charts for v in s.violations]

    def to_dict(self) -> dict[str, object]:
        return {
            "chart": self.chart,
            "subgroup_size": self.subgroup_size,
            "charts": [s.to_dict() for s in self.charts],
            "excluded": list(self.excluded),
            "estimate": self.estimate.to_dict(),
            "rules": list(self.rules),
        }
