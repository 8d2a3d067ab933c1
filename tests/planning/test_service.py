"""The planning service on the demo factory, over SQLite and PostgreSQL (db_url) and the
in-memory store: plans are versions, events re-plan, the plan obeys the shop's rules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.orders import Order, OrderLine, WorkStatus
from microfactory.orders.factory_file import load_factory
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


@dataclass
class Shop:
    service: PlanningService
    uow: UnitOfWorkFactory


def _order(order_id: str, created: datetime, days: int = 4) -> Order:
    return Order(
        id=order_id,
        customer="acme",
        lines=(
            OrderLine("bracket", 4, {"colour": "white", "length_mm": 90.0}),
            OrderLine("sensor-kit", 2, {"colour": "black"}),
        ),
        due=created + timedelta(days=days),
        created=created,
        priority=3,
    )


def _seed(uow: UnitOfWorkFactory) -> None:
    factory = load_factory(DEMO_FACTORY)
    with uow() as tx:
        tx.factory.save(factory, yaml.safe_load(DEMO_FACTORY.read_text()), str(DEMO_FACTORY))
        tx.orders.add(_order("SO-1", T0))
        tx.orders.add(_order("SO-2", T0, days=2))
        tx.commit()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop(request: pytest.FixtureRequest) -> Iterator[Shop]:
    settings = PlanningSettings(time_limit=5, workers=1)
    if request.param == "memory":
        uow: UnitOfWorkFactory = MemoryUnitOfWorkFactory()
        _seed(uow)
        yield Shop(PlanningService(uow, FixedClock(T0), settings), uow)
        return
    url_fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    engine = make_engine(request.getfixturevalue(url_fixture))
    upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    _seed(uow)
    yield Shop(PlanningService(uow, FixedClock(T0), settings), uow)
    engine.dispose()


@pytest.fixture()
def memory_shop() -> Shop:
    """Event behaviour does not depend on the store: the in-memory one keeps tests fast."""
    uow = MemoryUnitOfWorkFactory()
    _seed(uow)
    settings = PlanningSettings(time_limit=5, workers=1)
    return Shop(PlanningService(uow, FixedClock(T0), settings), uow)


def _assert_follows_the_shop_rules(shop: Shop, plan: PlanVersion) -> None:
    """Independent of the solver: eligible machines, routing order, no overlap."""
    with shop.uow() as tx:
        factory = tx.factory.current()
        work_orders = {wo.id: wo for wo in tx.work_orders.find()}
    assert factory is not None
    where = {op.operation: op for op in plan.operations}
    for op in plan.operations:
        wo_op = next(o for o in work_orders[op.work_order].operations if o.id == op.operation)
        eligible = {m.id for m in factory.eligible_machines(wo_op.capability, wo_op.machines)}
        assert op.machine in eligible
        for seq in wo_op.predecessors:
            pred = f"{op.work_order}-{seq}"
            if pred in where:
                assert where[pred].end <= op.start
    by_machine: dict[str, list[tuple[datetime, datetime]]] = {}
    for op in plan.operations:
        by_machine.setdefault(op.machine, []).append((op.start, op.end))
    for spans in by_machine.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_plan_releases_orders_and_stores_a_current_version(shop: Shop) -> None:
    plan = shop.service.plan()
    assert (plan.version, plan.current, plan.status in {"optimal", "feasible"}) == (1, True, True)
    with shop.uow() as tx:
        assert not tx.work_orders.find(status=[WorkStatus.PLANNED])  # a plan releases its work
        released = tx.work_orders.find(status=[WorkStatus.RELEASED])
    open_ops = {op.id for wo in released for op in wo.operations}
    assert open_ops and {op.operation for op in plan.operations} == open_ops
    assert all(op.status == WorkStatus.RELEASED for wo in released for op in wo.operations)
    _assert_follows_the_shop_rules(shop, plan)
    stored = shop.service.current()
    assert stored is not None and stored.operations == plan.operations


def test_replan_makes_a_new_current_version(shop: Shop) -> None:
    shop.service.plan()
    event = ReplanEvent(EventKind.MACHINE_BACK, at=T0, machine="fdm-01")
    second = shop.service.replan(event)
    assert (second.version, shop.service.version(1).current, second.current) == (2, False, True)


def test_replan_without_change_moves_nothing(memory_shop: Shop) -> None:
    shop = memory_shop
    first = shop.service.plan()
    second = shop.service.replan(ReplanEvent(EventKind.MACHINE_BACK, at=T0, machine="fdm-01"))
    assert second.moved == 0
    assert [(o.operation, o.machine, o.start) for o in second.operations] == [
        (o.operation, o.machine, o.start) for o in first.operations
    ]


def test_machine_down_keeps_its_window_free(memory_shop: Shop) -> None:
    shop = memory_shop
    first = shop.service.plan()
    busy = first.operations[0]
    until = busy.start + timedelta(hours=6)
    event = ReplanEvent(EventKind.MACHINE_DOWN, at=busy.start, machine=busy.machine, until=until)
    plan = shop.service.replan(event)
    for op in plan.operations:
        assert op.start >= busy.start
        if op.machine == busy.machine:
            assert op.end <= busy.start or op.start >= until
    _assert_follows_the_shop_rules(shop, plan)


def test_maintenance_window_is_respected(memory_shop: Shop) -> None:
    shop = memory_shop
    shop.service.plan()
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
    plan = shop.service.replan(
        ReplanEvent(EventKind.MAINTENANCE, at=start, machine="fdm-01", until=end)
    )
    for op in plan.operations:
        if op.machine == "fdm-01":
            assert op.end <= start or op.start >= end


def test_quality_hold_removes_the_work_order_from_the_plan(memory_shop: Shop) -> None:
    shop = memory_shop
    shop.service.plan()
    plan = shop.service.replan(ReplanEvent(EventKind.QUALITY_HOLD, at=T0, work_order="SO-1-1"))
    assert "SO-1-1" not in {op.work_order for op in plan.operations}
    assert "SO-1-2" in {op.work_order for op in plan.operations}


def test_rush_order_is_released_and_planned(memory_shop: Shop) -> None:
    shop = memory_shop
    shop.service.plan()
    with shop.uow() as tx:
        tx.orders.add(_order("SO-RUSH", T0, days=1))
        tx.commit()
    plan = shop.service.replan(ReplanEvent(EventKind.RUSH_ORDER, at=T0, order="SO-RUSH"))
    assert {"SO-RUSH-1", "SO-RUSH-2"} <= {op.work_order for op in plan.operations}
    _assert_follows_the_shop_rules(shop, plan)


def test_event_without_its_subject_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs its machine"):
        ReplanEvent(EventKind.MACHINE_DOWN, at=T0)


def test_machine_back_ends_the_downtime_but_keeps_later_maintenance(memory_shop: Shop) -> None:
    shop = memory_shop
    shop.service.plan()
    down = ReplanEvent(EventKind.MACHINE_DOWN, at=T0, machine="cnc", until=T0 + timedelta(hours=10))
    shop.service.replan(down)
    later = (T0 + timedelta(hours=20), T0 + timedelta(hours=22))
    shop.service.replan(
        ReplanEvent(EventKind.MAINTENANCE, at=later[0], machine="cnc", until=later[1])
    )
    back = T0 + timedelta(hours=2)
    shop.service.replan(ReplanEvent(EventKind.MACHINE_BACK, at=back, machine="cnc"))
    assert [(s, e) for s, e, _ in shop.service.downtimes()["cnc"]] == [(T0, back), later]


def test_downtimes_outlive_the_service_that_heard_the_event(shop: Shop) -> None:
    """A breakdown told to one planning service (say, the CLI) is kept by the store: a new
    service on the same store (the API, the next CLI call) plans around it."""
    shop.service.plan()
    until = T0 + timedelta(hours=30)
    shop.service.replan(
        ReplanEvent(EventKind.MACHINE_DOWN, at=T0, machine="cnc", until=until, reason="spindle")
    )
    fresh = PlanningService(shop.uow, FixedClock(T0), shop.service.settings)
    assert fresh.downtimes() == {"cnc": [(T0, until, "spindle")]}
    plan = fresh.plan("after restart")
    on_cnc = [op for op in plan.operations if op.machine == "cnc" and not op.frozen]
    assert all(op.start >= until or op.end <= T0 for op in on_cnc)


def test_event_with_until_before_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be after"):
        ReplanEvent(EventKind.MACHINE_DOWN, at=T0, machine="cnc", until=T0 - timedelta(hours=1))
