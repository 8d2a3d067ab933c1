"""Capable-to-promise: insert a quote's operations into the gaps of the current plan.

Nothing already planned moves: every planned operation (and every live reservation of
another quote) keeps its machine and times, so no confirmed order can be pushed past its
due date by a quote. The quote's print plates are list-scheduled one by one into the
gap, on any eligible machine, that finishes them earliest (long enough and inside the
machine's working windows, at the machine's speed); each following step (finishing, …)
starts after the previous step has finished. The earliest completion is the end of the last
step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from microfactory.core.errors import InfeasibleError

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Step:
    """One routing step of the quote: `count` equal jobs of `minutes` each (plates), any of
    `machines`, all after the previous step ends."""

    name: str
    machines: tuple[str, ...]
    minutes: float
    count: int = 1
    speed: Mapping[str, float] = field(default_factory=dict)
    """Machine speed factors: a machine with factor f takes ⌈minutes / f⌉ (as the planner)."""

    def length(self, machine: str) -> timedelta:
        factor = self.speed.get(machine, 1.0)
        return timedelta(minutes=math.ceil(self.minutes / factor - 1e-9))

    def __post_init__(self) -> None:
        if not self.machines:
            raise ValueError(f"step {self.name} has no machine")
        if self.minutes <= 0 or self.count < 1:
            raise ValueError(f"step {self.name} needs positive minutes and count >= 1")


@dataclass(frozen=True)
class Slot:
    step: str
    machine: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Promise:
    slots: tuple[Slot, ...]
    completion: datetime


def _merge(intervals: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif e > s:
            out.append((s, e))
    return out


def free_gaps(
    busy: Sequence[Interval], working: Sequence[Interval], start: datetime, horizon: datetime
) -> list[Interval]:
    """Working time in [start, horizon) not covered by `busy`."""
    merged = _merge([b for b in busy if b[1] > start and b[0] < horizon])
    gaps: list[Interval] = []
    for w_start, w_end in _merge(list(working)):
        s, e = max(w_start, start), min(w_end, horizon)
        if e <= s:
            continue
        cursor = s
        for b_start, b_end in merged:
            if b_end <= cursor:
                continue
            if b_start >= e:
                break
            if b_start > cursor:
                gaps.append((cursor, b_start))
            cursor = max(cursor, b_end)
            if cursor >= e:
                break
        if cursor < e:
            gaps.append((cursor, e))
    return gaps


def _earliest(gaps: Sequence[Interval], ready: datetime, length: timedelta) -> datetime | None:
    for s, e in gaps:
        begin = max(s, ready)
        if begin + length <= e:
            return begin
    return None


def promise(
    steps: Sequence[Step],
    *,
    now: datetime,
    busy: Mapping[str, Sequence[Interval]],
    working: Mapping[str, Sequence[Interval]],
    horizon: datetime,
) -> Promise:
    """Earliest completion of `steps` in the gaps; InfeasibleError when no gap before
    `horizon` takes them. `working` gives each machine's working windows (a machine not in it
    works around the clock)."""
    taken: dict[str, list[Interval]] = {m: list(v) for m, v in busy.items()}
    slots: list[Slot] = []
    ready = now
    for step in steps:
        step_end = ready
        for _ in range(step.count):
            best: tuple[datetime, str, timedelta] | None = None
            for machine in step.machines:
                length = step.length(machine)
                windows = working.get(machine, [(now, horizon)])
                gaps = free_gaps(taken.get(machine, []), windows, ready, horizon)
                begin = _earliest(gaps, ready, length)
                if begin is not None and (best is None or begin + length < best[0] + best[2]):
                    best = (begin, machine, length)
            if best is None:
                raise InfeasibleError(
                    f"no free {step.minutes:.0f}-minute slot for '{step.name}' on "
                    f"{', '.join(step.machines)} before {horizon.isoformat()}"
                )
            begin, machine, length = best
            slots.append(Slot(step.name, machine, begin, begin + length))
            taken.setdefault(machine, []).append((begin, begin + length))
            step_end = max(step_end, begin + length)
        ready = step_end
    return Promise(tuple(slots), ready)
