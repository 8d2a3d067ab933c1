"""Idle while late: did a machine stand idle while work it could do was already late?

A good plan keeps every machine that can help busy once an order is past due. This measures
the opposite from the stored rows alone (state events, work orders, lot holds), so a run's
summary can show it and a test can recompute it:

* **late, ready work for machine M at time t** is an operation M can do (its capability, and
  M among the operation's allowed machines if it names any) of a work order whose due date is
  before t, whose predecessors had all ended by t, that had not started by t and whose lot was
  not on hold at t;
* **idle** is M's time in the `idle` category of the ISO 22400 time model (available, in its
  shift, not set up, not in maintenance or broken down, not a minor stop);
* **idle while late** is the overlap of the two, in hours per machine.

Waiting for material is not modelled (the demo's material arrives before it is planned); an
operation of a cancelled work order never counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from microfactory.maintenance.oee import StateSpan
from microfactory.orders import Factory, WorkStatus
from microfactory.orders.orders import WorkOrder

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class LateWork:
    """One operation's late, ready interval: [due or ready, start or end of the period)."""

    capability: str
    machines: tuple[str, ...]
    start: datetime
    end: datetime


def late_work(
    work_orders: Iterable[WorkOrder],
    holds: Sequence[dict[str, Any]],
    end: datetime,
) -> list[LateWork]:
    """Every operation's interval of being late, ready and not started (before `end`), with
    the time its lot was on hold cut out."""
    held: dict[str, list[Interval]] = {}
    for h in holds:
        held.setdefault(h["lot"], []).append((h["held_at"], h.get("released_at") or end))
    out: list[LateWork] = []
    for wo in work_orders:
        if wo.status == WorkStatus.CANCELLED:
            continue
        ended = {op.seq: op.actual_end for op in wo.operations}
        for op in wo.operations:
            if op.status == WorkStatus.CANCELLED:
                continue
            ready: datetime | None = wo.due
            for seq in op.predecessors:
                done = ended.get(seq)
                if done is None:
                    ready = None
                    break
                ready = max(ready, done) if ready is not None else None
            if ready is None:
                continue
            until = min(op.actual_start or end, end)
            for lo, hi in subtract([(ready, until)], held.get(wo.lot, [])):
                out.append(LateWork(op.capability, op.machines, lo, hi))
    return out


def subtract(intervals: list[Interval], cuts: list[Interval]) -> list[Interval]:
    """`intervals` minus every interval of `cuts`."""
    out = [(a, b) for a, b in intervals if b > a]
    for c0, c1 in cuts:
        nxt: list[Interval] = []
        for a, b in out:
            if c1 <= a or c0 >= b:
                nxt.append((a, b))
                continue
            if a < c0:
                nxt.append((a, c0))
            if c1 < b:
                nxt.append((c1, b))
        out = nxt
    return out


def union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def overlap_hours(xs: list[Interval], ys: list[Interval]) -> float:
    """Total overlap of two sorted, disjoint interval lists, in hours."""
    i = j = 0
    total = 0.0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if hi > lo:
            total += (hi - lo).total_seconds()
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total / 3600.0


def idle_while_late(
    factory: Factory,
    spans: dict[str, list[StateSpan]],
    work: list[LateWork],
) -> dict[str, Any]:
    """Hours each machine stood idle while late, ready work for it waited; the total, the
    total idle hours and the worst machine."""
    by_machine: dict[str, float] = {}
    idle_total = 0.0
    for m in factory.machines:
        idle = union((s.start, s.end) for s in spans.get(m.id, []) if s.category == "idle")
        idle_total += sum((b - a).total_seconds() for a, b in idle) / 3600.0
        late = union(
            (w.start, w.end)
            for w in work
            if w.capability in m.capabilities and (not w.machines or m.id in w.machines)
        )
        hours = overlap_hours(idle, late)
        if hours > 0:
            by_machine[m.id] = round(hours, 2)
    total = round(float(sum(by_machine.values())), 2)
    worst = max(by_machine, key=lambda k: by_machine[k]) if by_machine else None
    return {
        "hours": total,
        "idle_hours": round(idle_total, 1),
        "by_machine": dict(sorted(by_machine.items())),
        "worst_machine": worst,
    }
