"""Pins and rush through the planning service on the demo factory: a pinned operation is
where the planner put it in every later plan, bad pins are refused with the reason and
change nothing, a rush order goes ahead of the others and the plan says whom it displaced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Order, OrderLine
from microfactory.orders.factory_file import load_factory
from microfactory.services.factory import current_factory
from microfactory.services.planning import (
    EventKind,
    PlanningService,
    PlanningSettings,
    PlanVersion,
    ReplanEvent,
)
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)  # a Monday, start of the early shift


def _order(order_id: str, created: datetime, days: int = 4, rush: bool = False) -> Order:
    return Order(
        id=order_id,
        customer="acme",
        lines=(OrderLine("bracket", 4, {"colour": "white", "length_mm": 90.0}),),
        due=created + timedelta(days=days),
        created=created,
        priority=3,
        rush=rush,
    )


def _service(uow: UnitOfWorkFactory, strategy: str = "dispatch") -> PlanningService:
    factory = load_factory(DEMO_FACTORY)
    with uow() as tx:
        tx.factory.save(factory, yaml.safe_load(DEMO_FACTORY.read_text()), str(DEMO_FACTORY))
        for n in range(1, 4):
            tx.orders.add(_order(f"SO-{n}", T0))
        tx.commit()
    settings = PlanningSettings(strategy=strategy, time_limit=3, workers=1)  # type: ignore[arg-type]
    return PlanningService(uow, FixedClock(T0), settings)


@pytest.fixture(params=["memory", "sqlite"])
def service(request: pytest.FixtureRequest) -> Iterator[PlanningService]:
    if request.param == "memory":
        yield _service(MemoryUnitOfWorkFactory())
        return
    engine = make_engine(request.getfixturevalue("sqlite_url"))
    upgrade(engine)
    yield _service(SqlUnitOfWorkFactory(engine))
    engine.dispose()


def _movable(service: PlanningService, plan: PlanVersion) -> tuple[str, str]:
    """An operation of the plan with another eligible machine, and that machine."""
    with service.uow() as tx:
        factory = current_factory(tx)
        for op in plan.operations:
            stored = tx.work_orders.get_operation(op.operation)
            others = [
                m.id
                for m in factory.eligible_machines(stored.capability, stored.machines)
                if m.id != op.machine
            ]
            if others:
                return op.operation, others[0]
    raise AssertionError("the demo plan has no operation with a second eligible machine")


def _where(plan: PlanVersion, operation: str) -> tuple[str, datetime]:
    op = next(o for o in plan.operations if o.operation == operation)
    return op.machine, op.start


def test_a_pinned_operation_is_where_the_planner_put_it_in_every_later_plan(
    service: PlanningService,
) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    start = T0 + timedelta(days=3, hours=2)
    pinned = service.pin(operation, machine, start, by="pat")
    assert _where(pinned, operation) == (machine, start)
    assert [(p.operation, p.machine, p.start, p.by) for p in service.pins()] == [
        (operation, machine, start, "pat")
    ]
    later = service.replan(ReplanEvent(EventKind.RUSH_ORDER, T0, order="SO-3"))
    assert _where(later, operation) == (machine, start)


def test_a_machine_pin_keeps_the_machine_and_lets_the_start_move(
    service: PlanningService,
) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    pinned = service.pin(operation, machine)
    assert _where(pinned, operation)[0] == machine
    assert service.pins()[0].start is None


def test_unpin_removes_the_pin_and_replans(service: PlanningService) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    service.pin(operation, machine, T0 + timedelta(days=2))
    after = service.unpin(operation)
    assert service.pins() == []
    assert "unpin" in after.reason
    with pytest.raises(NotFound, match="not pinned"):
        service.unpin(operation)


@pytest.mark.parametrize(
    ("machine", "start", "message"),
    [
        ("no-such-machine", None, "unknown machine"),  # not in the factory
        ("inspect", None, "cannot run operation"),  # a machine without the capability
        (None, T0 - timedelta(hours=1), "must not be in the past"),  # start has passed
        (None, datetime(2026, 1, 7, 6), "timezone-aware"),  # naive start
    ],
)
def test_a_bad_pin_is_refused_with_the_reason_and_nothing_is_stored(
    service: PlanningService, machine: str | None, start: datetime | None, message: str
) -> None:
    plan = service.plan()
    operation, other = _movable(service, plan)
    with pytest.raises(ValidationError, match=message):
        service.pin(operation, machine or other, start)
    assert service.pins() == []
    current = service.current()
    assert current is not None and current.version == plan.version


def test_an_unknown_operation_cannot_be_pinned(service: PlanningService) -> None:
    service.plan()
    with pytest.raises(ValidationError, match="unknown operation"):
        service.pin("SO-9-9-99", "fdm-01")


def _first_start(plan: PlanVersion, order: str) -> datetime:
    return min(op.start for op in plan.operations if op.work_order.startswith(f"{order}-"))


@pytest.mark.parametrize("strategy", ["dispatch", "cpsat"])
def test_a_rush_event_plans_the_order_first_and_says_whom_it_displaced(strategy: str) -> None:
    service = _service(MemoryUnitOfWorkFactory(), strategy)
    before = service.plan()
    rushed = service.replan(ReplanEvent(EventKind.RUSH_ORDER, T0, order="SO-3"))
    assert _first_start(rushed, "SO-3") <= _first_start(before, "SO-3")
    assert _first_start(rushed, "SO-3") <= min(
        _first_start(rushed, "SO-1"), _first_start(rushed, "SO-2")
    )
    assert rushed.moved > 0
    assert "rush SO-3 planned first; displaced" in rushed.reason
    assert "SO-1" in rushed.reason or "SO-2" in rushed.reason


def test_an_order_placed_as_rush_does_not_wait_behind_a_normal_one() -> None:
    uow = MemoryUnitOfWorkFactory()
    service = _service(uow)
    with uow() as tx:
        tx.orders.add(_order("SO-4", T0 + timedelta(minutes=1), rush=True))
        tx.commit()
    plan = service.plan()
    # released a minute after the others, it still does not wait for any of them
    assert _first_start(plan, "SO-4") == T0 + timedelta(minutes=1)


def test_a_pin_no_plan_can_keep_is_taken_back_with_the_reason(service: PlanningService) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    start = T0 + timedelta(days=3)
    service.pin(operation, machine, start)
    other = next(
        op.operation
        for op in plan.operations
        if op.operation != operation and op.machine.startswith("fdm-0")
    )
    with pytest.raises(Conflict, match="no plan keeps it"):
        service.pin(other, machine, start)  # the same printer at the same time
    assert [p.operation for p in service.pins()] == [operation]
    current = service.current()
    assert current is not None and "taken back" in current.reason
    assert _where(current, operation) == (machine, start)


def test_a_pinned_operation_is_not_shown_as_running(service: PlanningService) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    pinned = service.pin(operation, machine, T0 + timedelta(days=1))
    assert not next(op for op in pinned.operations if op.operation == operation).frozen


def test_a_breakdown_over_a_pinned_start_keeps_the_machine_and_says_why(
    service: PlanningService,
) -> None:
    plan = service.plan()
    operation, machine = _movable(service, plan)
    start = T0 + timedelta(days=3)
    service.pin(operation, machine, start)
    down = ReplanEvent(
        EventKind.MACHINE_DOWN,
        T0 + timedelta(hours=1),
        machine=machine,
        until=start + timedelta(hours=6),
    )
    after = service.replan(down)
    where, when = _where(after, operation)
    assert where == machine and when >= start + timedelta(hours=6)
    assert f"pin {operation}: {machine} is not available at its start" in after.reason
    assert service.pins()[0].start == start  # the stored pin is the planner's to change


def test_a_later_breakdown_is_not_blamed_on_an_old_rush_order() -> None:
    service = _service(MemoryUnitOfWorkFactory())
    service.plan()
    rushed = service.replan(ReplanEvent(EventKind.RUSH_ORDER, T0, order="SO-3"))
    assert "rush SO-3 planned first" in rushed.reason
    down = ReplanEvent(EventKind.MACHINE_DOWN, T0 + timedelta(hours=2), machine="inspect")
    assert "rush" not in service.replan(down).reason
