"""One contract, three stores: in-memory, SQLite and the real PostgreSQL."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core import Conflict, NotFound
from microfactory.orders import (
    OperationState,
    Order,
    OrderLine,
    OrderStatus,
    SerialNumber,
    WorkStatus,
)
from microfactory.orders.factory_file import load_factory, resolve_relative_times
from microfactory.orders.stock import Movement, MovementKind
from microfactory.services.materials import receive_opening_lots
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import is_up_to_date, upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    url_fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url = request.getfixturevalue(url_fixture)
    engine = make_engine(url)
    upgrade(engine)
    assert is_up_to_date(engine)
    factory = SqlUnitOfWorkFactory(engine)
    yield factory
    engine.dispose()


def load(uow: UnitOfWorkFactory) -> None:
    # the file's relative lot times resolved once, as `init` stores them
    f = load_factory(DEMO_FACTORY, at=T0)
    definition = resolve_relative_times(yaml.safe_load(DEMO_FACTORY.read_text()), T0)
    with uow() as tx:
        tx.factory.save(f, definition, str(DEMO_FACTORY))
        receive_opening_lots(tx, f, T0)
        tx.commit()


def make_order(order_id: str = "SO-1", created: datetime = T0) -> Order:
    return Order(
        id=order_id,
        customer="acme",
        lines=(
            OrderLine("bracket", 4, {"colour": "white", "length_mm": 90.0}),
            OrderLine("sensor-kit", 2, {"colour": "black"}),
        ),
        due=created + timedelta(days=4),
        created=created,
        priority=4,
    )


def test_factory_round_trip(uow: UnitOfWorkFactory) -> None:
    with uow() as tx:
        assert tx.factory.current() is None
    load(uow)
    with uow() as tx:
        f = tx.factory.current()
        assert f is not None
        assert f == load_factory(DEMO_FACTORY, at=T0)
        assert [c.id for c in tx.customers.find()][:2] == ["acme", "makers"]


def test_order_round_trip_and_listing(uow: UnitOfWorkFactory) -> None:
    load(uow)
    with uow() as tx:
        tx.orders.add(make_order("SO-2", T0 + timedelta(hours=1)))
        tx.orders.add(make_order("SO-1", T0))
        tx.commit()
    with uow() as tx:
        got = tx.orders.get("SO-1")
        assert got == make_order("SO-1", T0)
        assert [o.id for o in tx.orders.find()] == ["SO-1", "SO-2"]
        assert [o.id for o in tx.orders.find(limit=1, offset=1)] == ["SO-2"]
        assert tx.orders.count(status=[OrderStatus.CONFIRMED]) == 2
        with pytest.raises(NotFound):
            tx.orders.get("SO-404")


def test_duplicate_order_is_a_conflict(uow: UnitOfWorkFactory) -> None:
    load(uow)
    with uow() as tx:
        tx.orders.add(make_order())
        tx.commit()
    with uow() as tx, pytest.raises(Conflict):
        tx.orders.add(make_order())


def test_uncommitted_work_is_rolled_back(uow: UnitOfWorkFactory) -> None:
    load(uow)
    with uow() as tx:
        tx.orders.add(make_order())
    with uow() as tx:
        assert tx.orders.count() == 0


def test_status_timeline_and_illegal_transition(uow: UnitOfWorkFactory) -> None:
    load(uow)
    with uow() as tx:
        tx.orders.add(make_order(), note="received")
        tx.orders.set_status("SO-1", OrderStatus.RELEASED, T0 + timedelta(hours=1))
        tx.commit()
    with uow() as tx:
        with pytest.raises(Conflict, match="cannot go from released to done"):
            tx.orders.set_status("SO-1", OrderStatus.DONE, T0 + timedelta(hours=2))
        timeline = tx.orders.timeline("SO-1")
    assert [(s, at) for s, at, _ in timeline] == [
        (OrderStatus.CONFIRMED, T0),
        (OrderStatus.RELEASED, T0 + timedelta(hours=1)),
    ]


def test_release_creates_work_orders_and_operation_updates_persist(
    uow: UnitOfWorkFactory,
) -> None:
    load(uow)
    with uow() as tx:
        place_order(
            tx,
            OrderRequest(
                customer="acme",
                lines=make_order().lines,
                due=T0 + timedelta(days=4),
                order_id="SO-1",
            ),
            T0,
        )
        wos = release_order(tx, "SO-1", T0)
        tx.commit()
    assert [w.id for w in wos] == ["SO-1-1", "SO-1-2"]
    kit = wos[1]
    assert [op.predecessors for op in kit.operations][:4] == [(), (), (), (1, 2, 3)]
    with uow() as tx:
        assert tx.work_orders.get("SO-1-2") == kit
        op = kit.operations[0].transition(WorkStatus.RELEASED).transition(WorkStatus.RUNNING)
        from dataclasses import replace

        tx.work_orders.update_operation(replace(op, machine="fdm-02", actual_start=T0))
        tx.work_orders.set_status("SO-1-2", WorkStatus.RELEASED)
        tx.stock.record(
            [Movement(MovementKind.ISSUE, "pla-white", "PLA-W-2612", 0.24, T0, "SO-1-2", op.id)]
        )
        tx.trace.add_serial(SerialNumber("SN-1", "SO-1-2", kit.lot, T0))
        tx.commit()
    with uow() as tx:
        stored = tx.work_orders.get_operation(kit.operations[0].id)
        assert stored.machine == "fdm-02"
        assert stored.status == WorkStatus.RUNNING
        assert stored.actual_start == T0
        assert [w.id for w in tx.work_orders.find(status=[WorkStatus.RELEASED])] == ["SO-1-2"]
        assert [s.serial for s in tx.trace.serials("SO-1-2")] == ["SN-1"]
        assert tx.trace.serial("SN-1") == SerialNumber("SN-1", "SO-1-2", kit.lot, T0)
        assert tx.trace.work_orders_of_lot(kit.lot) == ["SO-1-2"]
        lot = tx.stock.lot("PLA-W-2612")
        assert lot is not None and lot.quantity == pytest.approx(14 - 0.24)
        assert tx.orders.get("SO-1").status == OrderStatus.RELEASED


def test_many_by_id_in_one_read_and_work_running_on_a_machine(uow: UnitOfWorkFactory) -> None:
    from dataclasses import replace

    load(uow)
    with uow() as tx:
        for n in (1, 2):
            place_order(
                tx,
                OrderRequest(
                    customer="acme",
                    lines=make_order().lines,
                    due=T0 + timedelta(days=4),
                    order_id=f"SO-{n}",
                ),
                T0,
            )
            release_order(tx, f"SO-{n}", T0)
        tx.commit()
    with uow() as tx:
        many = tx.work_orders.get_many(["SO-2-1", "SO-9-9", "SO-1-2", "SO-2-1"])
        assert sorted(many) == ["SO-1-2", "SO-2-1"]
        assert many["SO-1-2"] == tx.work_orders.get("SO-1-2")
        assert tx.work_orders.get_many([]) == {}
        orders = tx.orders.get_many(["SO-2", "SO-404"])
        assert list(orders) == ["SO-2"] and orders["SO-2"] == tx.orders.get("SO-2")
        assert tx.orders.line_models(["SO-1", "SO-2", "SO-404"]) == {}
        base = make_order("SO-M")
        lines = (base.lines[0], replace(base.lines[1], model_ref="sha256:abc"))
        tx.orders.add(replace(base, lines=lines))
        assert tx.orders.line_models(["SO-M", "SO-1"]) == {("SO-M", 2): "sha256:abc"}
        assert tx.work_orders.find(running_on="fdm-02") == []
        op = many["SO-1-2"].operations[0]
        running = op.transition(WorkStatus.RELEASED).transition(WorkStatus.RUNNING)
        tx.work_orders.update_operation(replace(running, machine="fdm-02", actual_start=T0))
        tx.commit()
    with uow() as tx:
        assert [w.id for w in tx.work_orders.find(running_on="fdm-02")] == ["SO-1-2"]
        kit_ops = [o.id for o in tx.work_orders.get("SO-1-2").operations]
        states = tx.work_orders.operation_states([kit_ops[1], "nope"], running_on="fdm-02")
        assert states == {
            kit_ops[0]: OperationState(
                WorkStatus.RUNNING, "fdm-02", 0, 0, T0, WorkStatus.PLANNED, "SO-1-2"
            ),
            kit_ops[1]: OperationState(
                WorkStatus.PLANNED, None, 0, 0, None, WorkStatus.PLANNED, "SO-1-2"
            ),
        }
        assert tx.work_orders.operation_states([]) == {}
        assert tx.work_orders.find(running_on="fdm-01") == []
        assert [
            w.id for w in tx.work_orders.find(status=[WorkStatus.DONE], running_on="fdm-02")
        ] == []


def test_tracking_token_lookup(uow: UnitOfWorkFactory) -> None:
    load(uow)
    with uow() as tx:
        tx.orders.add(make_order())
        tx.orders.set_tracking_token("SO-1", "tok-abc")
        tx.commit()
    with uow() as tx:
        assert tx.orders.by_tracking_token("tok-abc").id == "SO-1"
        with pytest.raises(NotFound):
            tx.orders.by_tracking_token("guess")
