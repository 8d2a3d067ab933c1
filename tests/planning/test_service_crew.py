"""The planning service with the demo factory's crew: every stored plan names a qualified
operator on shift for each operation that needs one, and re-checks clean with the
independent checker against the problem the service built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.orders import Order, OrderLine
from microfactory.orders.factory_file import load_factory
from microfactory.planning.checker import check_plan
from microfactory.planning.model import Assignment
from microfactory.services.planning import (
    OPEN,
    EventKind,
    PlanningService,
    PlanningSettings,
    PlanVersion,
    ReplanEvent,
    build_problem,
)
from microfactory.store.memory import MemoryUnitOfWorkFactory

T0 = datetime(2026, 1, 9, 12, tzinfo=UTC)  # a Friday noon: shifts end soon, a weekend follows


def _shop(strategy: str) -> tuple[PlanningService, MemoryUnitOfWorkFactory]:
    uow = MemoryUnitOfWorkFactory()
    factory = load_factory(DEMO_FACTORY)
    with uow() as tx:
        tx.factory.save(factory, yaml.safe_load(DEMO_FACTORY.read_text()), str(DEMO_FACTORY))
        for k in range(3):
            tx.orders.add(
                Order(
                    id=f"SO-{k}",
                    customer="acme",
                    lines=(
                        OrderLine("bracket", 6, {"colour": "white", "length_mm": 90.0}),
                        OrderLine("alu-plate", 2, {}),
                        OrderLine("enclosure", 1, {"colour": "jet-black"}),
                    ),
                    due=T0 + timedelta(days=3 + k),
                    created=T0,
                    priority=3,
                )
            )
        tx.commit()
    settings = PlanningSettings(strategy=strategy, time_limit=3, workers=1)  # type: ignore[arg-type]
    return PlanningService(uow, FixedClock(T0), settings), uow


def _recheck(uow: MemoryUnitOfWorkFactory, plan: PlanVersion, now: datetime) -> list[str]:
    """The stored plan, mapped back onto the problem the service builds, checked."""
    with uow() as tx:
        factory = tx.factory.current()
        work_orders = tx.work_orders.find(status=list(OPEN))
        downtimes = tx.plans.downtimes(since=now)
    assert factory is not None
    built = build_problem(factory, work_orders, now, downtimes=downtimes)
    index = {op_id: k for k, op_id in enumerate(built.op_ids)}
    machines = {m: k for k, m in enumerate(built.machine_ids)}
    people = {p.name: k for k, p in enumerate(built.problem.operators)}
    minutes = lambda t: round((t - built.origin).total_seconds() / 60)  # noqa: E731
    plan_rows = [
        Assignment(
            index[op.operation],
            machines[op.machine],
            minutes(op.start),
            minutes(op.end),
            None if op.operator is None else people[op.operator],
        )
        for op in plan.operations
    ]
    return check_plan(built.problem, plan_rows)


def test_every_operation_that_needs_a_person_gets_a_qualified_one_on_shift() -> None:
    for strategy in ("dispatch", "cpsat"):
        service, uow = _shop(strategy)
        plan = service.plan()
        assert plan.operations
        assert _recheck(uow, plan, T0) == []
        with uow() as tx:
            factory = tx.factory.current()
        assert factory is not None
        skills = {p.id: p.skills for p in factory.crew.operators}
        for op in plan.operations:
            assert op.operator is not None  # every demo machine needs somebody
            assert op.operator in skills


def test_a_breakdown_replan_keeps_the_crew_rules() -> None:
    service, uow = _shop("cpsat")
    first = service.plan()
    machines = [op.machine for op in first.operations]
    busiest = max(set(machines), key=machines.count)
    at = T0 + timedelta(hours=1)
    again = service.replan(ReplanEvent(EventKind.MACHINE_DOWN, at, machine=busiest))
    assert again.version == first.version + 1
    assert all(op.operator for op in again.operations)
    assert _recheck(uow, again, at) == []


def test_the_gantt_shows_a_row_per_person_on_request() -> None:
    from microfactory.services.planning_gantt import gantt_figure

    service, _ = _shop("dispatch")
    plan = service.plan()
    rows = {y for trace in gantt_figure(plan, people=True).data for y in trace.y}
    people = {f"person: {op.operator}" for op in plan.operations}
    assert people <= rows
    plain = {y for trace in gantt_figure(plan).data for y in trace.y}
    assert not any(str(y).startswith("person: ") for y in plain)
