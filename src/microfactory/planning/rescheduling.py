"""Turn shop-floor events into a changed problem for re-planning (pure functions).

At re-planning time `now`: operations that started before `now` are frozen where they are
(running or done); every other operation may not start before `now`. A breakdown or a
maintenance window becomes an unavailability window of the machine; an operation that is
running on the machine when it breaks down is interrupted and planned again (it is
non-preemptive, so it restarts). A held job is removed from the plan by the caller (the
planning service), which knows the work orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Machine,
    Problem,
    Window,
    merge_windows,
)


def freeze_started(problem: Problem, plan: Sequence[Assignment], now: int) -> Problem:
    """Freeze operations of `plan` that started before `now` (with their operator); release
    the others at `now`."""
    started = {a.op: a for a in plan if a.start < now}
    frozen = dict(problem.frozen_by_op())
    for op, a in started.items():
        frozen.setdefault(op, FrozenOp(op, a.machine, a.start, a.operator))
    operations = tuple(
        op if index in frozen else replace(op, release=max(op.release, now))
        for index, op in enumerate(problem.operations)
    )
    return replace(problem, operations=operations, frozen=tuple(frozen.values()))


def add_unavailability(
    problem: Problem, machine: int, window: Window, *, interrupt: bool
) -> Problem:
    """Add `window` to `machine` (merged with overlapping windows). With `interrupt`
    (breakdown), a frozen operation overlapping it is unfrozen and planned again from the
    window's start (a pin on it keeps its machine, not its start); without (planned
    maintenance), the window starts after such an operation ends."""
    start, end = window.start, window.end
    frozen = list(problem.frozen)
    operations = list(problem.operations)
    pins = list(problem.pins)
    for item in list(frozen):
        if item.machine != machine:
            continue
        op_end = item.start + (operations[item.op].duration_on(machine) or 0)
        if item.start < end and start < op_end:
            if interrupt:
                frozen.remove(item)
                # a pinned start cannot be kept either: the pin keeps its machine only
                pins = [replace(p, start=None) if p.op == item.op else p for p in pins]
                operations[item.op] = replace(
                    operations[item.op], release=max(operations[item.op].release, start)
                )
            else:
                start = max(start, op_end)
    if start >= end:
        return problem
    merged = merge_windows([*problem.machines[machine].unavailable, Window(start, end)])
    machines = list(problem.machines)
    machines[machine] = Machine(
        name=machines[machine].name, unavailable=merged, setups=machines[machine].setups
    )
    return replace(
        problem,
        machines=tuple(machines),
        operations=tuple(operations),
        frozen=tuple(frozen),
        pins=tuple(pins),
    )


def moved_fraction(
    before: Sequence[Assignment], after: Sequence[Assignment], exclude_machine: int | None = None
) -> float:
    """Share of operations (not on `exclude_machine` in `before`) whose machine or start
    changed."""
    new = {a.op: a for a in after}
    pool = [a for a in before if a.machine != exclude_machine]
    if not pool:
        return 0.0
    moved = sum(
        1
        for a in pool
        if a.op not in new or new[a.op].machine != a.machine or new[a.op].start != a.start
    )
    return moved / len(pool)
