"""Evaluate a characteristic's newest subgroup on arrival (pure; the service stores state).

Per characteristic, measurements form subgroups of ``subgroup_size`` in arrival order (an
I-MR chart for size 1, X̄-R otherwise). Until ``phase_one_subgroups`` subgroups exist only
the specification is checked. Then Phase I runs once (limits estimated with iterative
exclusion of out-of-control subgroups) and the limits are frozen; from there on each
completed subgroup is charted against the frozen limits (Phase II) over a trailing window
long enough for every rule (15 points), and only violations completed by the newest point
are reported — so each point raises a given rule at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from microfactory.quality.chart_model import ProcessEstimate
from microfactory.quality.charts import control_chart
from microfactory.quality.rules import Violation

PHASE_ONE_SUBGROUPS = 20
WINDOW_SUBGROUPS = 30


def chart_type_for(subgroup_size: int) -> str:
    return "imr" if subgroup_size == 1 else "xbar-r"


def out_of_spec(value: float, lsl: float | None, usl: float | None) -> bool:
    return (lsl is not None and value < lsl) or (usl is not None and value > usl)


@dataclass(frozen=True)
class LatestCheck:
    """``frozen``: an estimate Phase I just produced (to be stored); ``violations``: (series,
    violation) completed by the newest point."""

    frozen: ProcessEstimate | None
    violations: tuple[tuple[str, Violation], ...]
    evaluated: bool


def values_needed(subgroup_size: int, estimate: ProcessEstimate | None) -> int:
    """How many of the most recent values :func:`check_latest` needs."""
    subgroups = PHASE_ONE_SUBGROUPS if estimate is None else WINDOW_SUBGROUPS
    return subgroups * subgroup_size


def check_latest(
    recent: Sequence[float],
    total: int,
    subgroup_size: int,
    estimate: ProcessEstimate | None,
    rules: str | Iterable[str] = "nelson",
    phase_one_subgroups: int = PHASE_ONE_SUBGROUPS,
) -> LatestCheck:
    """Check the newest subgroup. ``recent``: the latest values (at most
    :func:`values_needed`), ``total``: how many values the characteristic has in all."""
    n = subgroup_size
    if total % n or total < n:
        return LatestCheck(None, (), False)
    usable = len(recent) - len(recent) % n
    values = list(recent[len(recent) - usable :]) if usable else []
    frozen = None
    if estimate is None:
        if total // n < phase_one_subgroups or len(values) < phase_one_subgroups * n:
            return LatestCheck(None, (), False)
        phase_one = control_chart(
            chart_type_for(n),
            values[-phase_one_subgroups * n :],
            subgroup_size=None if n == 1 else n,
            rules=rules,
            exclude_out_of_control=True,
        )
        estimate = frozen = phase_one.estimate
    window = values[-WINDOW_SUBGROUPS * n :]
    if len(window) < 2 * n:
        return LatestCheck(frozen, (), False)
    chart = control_chart(
        chart_type_for(n),
        window,
        subgroup_size=None if n == 1 else n,
        rules=rules,
        estimate=estimate,
    )
    latest: list[tuple[str, Violation]] = []
    for series in chart.charts:
        last = series.points.shape[0] - 1
        latest.extend((series.name, v) for v in series.violations if v.index == last)
    return LatestCheck(frozen, tuple(latest), True)
