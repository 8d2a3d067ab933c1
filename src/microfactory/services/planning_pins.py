"""Pins and rush for the planning service: a planner's stored pins as the problem's (what
can no longer be kept is said in the plan's reason), the orders that are rush, and what
planning them first displaced."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from microfactory.orders import OrderStatus, WorkOrder
from microfactory.orders.pins import OperationPin
from microfactory.planning.model import Assignment, Pin, Problem
from microfactory.planning.result import ScheduleResult
from microfactory.services.ports import UnitOfWork

if TYPE_CHECKING:
    from microfactory.services.planning import BuiltProblem


def _minutes_from(origin: datetime, at: datetime) -> int:
    return math.ceil((at - origin).total_seconds() / 60.0)  # as the planning service rounds


def plan_pins(
    problem: Problem,
    pins: Sequence[OperationPin],
    op_index: Mapping[str, int],
    machine_index: Mapping[str, int],
    origin: datetime,
    release_now: int,
) -> tuple[tuple[Pin, ...], list[str]]:
    """The stored pins as the problem's, in minutes. A pin of an operation that is no longer
    open is ignored; one that can no longer be kept whole (running elsewhere, start passed
    or in a downtime) keeps what it can and says why."""
    kept: list[Pin] = []
    notes: list[str] = []
    frozen = problem.frozen_by_op()
    for pin in pins:
        k = op_index.get(pin.operation)
        if k is None:
            continue
        m = machine_index.get(pin.machine)
        if m is None or problem.operations[k].duration_on(m) is None:
            notes.append(f"pin {pin.operation} ignored: {pin.machine} cannot run it now")
            continue
        if k in frozen:
            continue  # running: where it runs wins
        start = None if pin.start is None else _minutes_from(origin, pin.start)
        if start is not None and start < release_now:
            notes.append(f"pin {pin.operation}: start {pin.start:%Y-%m-%d %H:%M} UTC has passed")
            start = None
        if start is not None and _overlaps_window(problem, k, m, start):
            notes.append(f"pin {pin.operation}: {pin.machine} is not available at its start")
            start = None
        kept.append(Pin(k, m, start))
    return tuple(kept), notes


def _overlaps_window(problem: Problem, op: int, machine: int, start: int) -> bool:
    end = start + (problem.operations[op].duration_on(machine) or 0)
    return any(start < w.end and w.start < end for w in problem.machines[machine].unavailable)


def rush_order_ids(tx: UnitOfWork, work_orders: Sequence[WorkOrder]) -> set[str]:
    """Orders of `work_orders` placed as rush or marked rush by a rush event."""
    ids = {wo.order for wo in work_orders}
    if not ids:
        return set()
    rush = ids & tx.pins.rush_orders()
    live = [OrderStatus.CONFIRMED, OrderStatus.RELEASED, OrderStatus.IN_PRODUCTION]
    rush |= {o.id for o in tx.orders.find(status=live, limit=1_000_000) if o.rush and o.id in ids}
    return rush


def explain_rush(
    built: BuiltProblem,
    result: ScheduleResult,
    previous: Mapping[int, Assignment],
    order_of: Mapping[str, str],
    trigger: str,
    planned_before: Collection[str] = (),
) -> list[str]:
    """What planning rush orders first displaced: the operations of other orders that now
    start later than in the previous plan, and their orders. Said when a rush order is new
    in the plan (none of `planned_before`) or a rush event asked for the plan, so a later
    breakdown's delays are not blamed on an old rush order."""
    problem = built.problem
    if not result.has_plan:
        return []
    came_forward = {
        problem.operations[a.op].job
        for a in result.assignments
        if problem.jobs[problem.operations[a.op].job].rush
        and built.op_ids[a.op] not in planned_before
    }
    if trigger == "rush_order":
        came_forward |= {j for j, job in enumerate(problem.jobs) if job.rush}
    if not came_forward:
        return []
    rush = sorted({order_of.get(problem.jobs[j].name, problem.jobs[j].name) for j in came_forward})
    displaced = [
        a.op
        for a in result.assignments
        if not problem.jobs[problem.operations[a.op].job].rush
        and a.op in previous
        and a.start > previous[a.op].start
    ]
    if not displaced:
        if trigger == "rush_order":
            return [f"rush {', '.join(rush)} planned first; nothing displaced"]
        return []
    names = [built.op_ids[op] for op in displaced]
    orders = sorted(
        {order_of.get(problem.jobs[problem.operations[op].job].name, "?") for op in displaced}
    )
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return [
        f"rush {', '.join(rush)} planned first; displaced {len(names)} operation(s) "
        f"({shown}) of order(s) {', '.join(orders)}"
    ]
