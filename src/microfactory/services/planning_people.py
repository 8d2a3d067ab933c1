"""A plan seen by its people: which operator attends which part of each planned operation
(setup, run, unload) at which share, and per operator the shifts and the assignments.

The plan stores the operator of each operation; the parts follow from the operation's crew
need as the factory states it (`Crew.need`: the routing step's, else the strictest among the
machines that may run it, as `build_problem` asked the planner) and the planned times:
`run` and `share` attend the whole run, `setup` the first `setup_minutes` and the last
`unload_minutes` (the whole run when they fill it). An operation the plan gives nobody
(it needs no one, or it was already running) has no parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from microfactory.core.errors import ValidationError
from microfactory.orders import Factory
from microfactory.orders.crew import CrewNeed
from microfactory.orders.orders import WorkOrderOperation
from microfactory.services.factory import current_factory
from microfactory.services.planning import PlannedOperation, PlanVersion
from microfactory.services.planning_crew import to_plan_crew
from microfactory.services.ports import UnitOfWorkFactory

MAX_SPAN = timedelta(days=92)


@dataclass(frozen=True)
class CrewPart:
    """An operator's part in one planned operation."""

    operation: str
    work_order: str
    machine: str
    operator: str
    part: str  # setup | run | unload
    start: datetime
    end: datetime
    share: int  # percent of the person


@dataclass(frozen=True)
class PersonLane:
    """One operator: skills, shifts (working windows) and assignments inside the view."""

    operator: str
    name: str
    skills: tuple[str, ...]
    shifts: tuple[tuple[datetime, datetime], ...]
    assignments: tuple[CrewPart, ...]


@dataclass(frozen=True)
class PlanPeople:
    version: int
    start: datetime
    end: datetime
    parts: dict[str, tuple[CrewPart, ...]]
    """Every planned operation with an operator -> its parts (the whole plan)."""
    lanes: tuple[PersonLane, ...]
    """Every operator of the factory, in factory order, limited to [start, end)."""


def crew_parts(need: CrewNeed, op: PlannedOperation) -> tuple[CrewPart, ...]:
    """The parts of `op` (which has an operator) under `need`."""
    assert op.operator is not None
    crew = to_plan_crew(need)
    minutes = max(0, round((op.end - op.start).total_seconds() / 60))
    segments = crew.segments(minutes)
    whole = len(segments) == 1 and segments[0] == (0, minutes)
    parts = []
    for lo, hi in segments:
        if whole:
            name, start, end = "run", op.start, op.end
        else:
            name = "setup" if lo == 0 else "unload"
            start, end = op.start + timedelta(minutes=lo), op.start + timedelta(minutes=hi)
            end = min(end, op.end)
        parts.append(
            CrewPart(
                op.operation,
                op.work_order,
                op.machine,
                op.operator,
                name,
                start,
                end,
                crew.load,
            )
        )
    return tuple(parts)


def _need(factory: Factory, product: str, step: WorkOrderOperation) -> CrewNeed | None:
    machines = factory.eligible_machines(step.capability, step.machines)
    return factory.crew.need(product, step.seq, [m.id for m in machines])


def plan_crew_parts(
    uow: UnitOfWorkFactory, plan: PlanVersion
) -> tuple[Factory, dict[str, tuple[CrewPart, ...]]]:
    """The factory and every planned operation with an operator -> its parts."""
    operations = [op for op in plan.operations if op.operator is not None]
    with uow() as tx:
        factory = current_factory(tx)
        steps: dict[str, tuple[str, WorkOrderOperation]] = {}
        for wo_id in sorted({op.work_order for op in operations}):
            wo = tx.work_orders.get(wo_id)
            for step in wo.operations:
                steps[step.id] = (wo.product, step)
    parts: dict[str, tuple[CrewPart, ...]] = {}
    for op in operations:
        found = steps.get(op.operation)
        need = None if found is None else _need(factory, found[0], found[1])
        if need is not None:
            parts[op.operation] = crew_parts(need, op)
    return factory, parts


def plan_people(
    uow: UnitOfWorkFactory,
    plan: PlanVersion,
    start: datetime | None = None,
    end: datetime | None = None,
) -> PlanPeople:
    """The crew parts of `plan` and the lanes of its operators over [start, end) (default:
    from the plan's first start to its last end; at most 92 days)."""
    begin = start or min((op.start for op in plan.operations), default=plan.origin)
    stop = end or max((op.end for op in plan.operations), default=begin + timedelta(days=1))
    if stop <= begin:
        raise ValidationError("end must be after start", where="end")
    if stop - begin > MAX_SPAN:
        raise ValidationError("a people view may span at most 92 days", where="start")
    factory, parts = plan_crew_parts(uow, plan)
    by_person: dict[str, list[CrewPart]] = {}
    for items in parts.values():
        for part in items:
            if part.end > begin and part.start < stop:
                by_person.setdefault(part.operator, []).append(part)
    lanes = tuple(
        PersonLane(
            operator=person.id,
            name=person.name,
            skills=tuple(sorted(person.skills)),
            shifts=tuple((w.start, w.end) for w in person.calendar.working_windows(begin, stop)),
            assignments=tuple(
                sorted(by_person.get(person.id, []), key=lambda p: (p.start, p.operation))
            ),
        )
        for person in factory.crew.operators
    )
    return PlanPeople(plan.version, begin, stop, parts, lanes)
