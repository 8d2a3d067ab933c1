"""The event path's repositories, one contract on every store (in-memory, SQLite and the real
PostgreSQL): the event log in commit order, the reactor's ledger (cursor, rejections), the
replan queue, TPM usage, execution progress in bulk — and the reactor itself running on each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderLine, OrderStatus, WorkStatus
from microfactory.services.execution import ExecutionHandler
from microfactory.services.factory import init_factory
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.reactor import Reactor
from microfactory.services.tpm import TpmHandler
from microfactory.shopfloor.events import Event, JobEvent, PartCounter
from microfactory.shopfloor.records import PlanUsage, ReactorProgress, Rejection
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory
from microfactory.store.telemetry_tables import SqlTelemetryStore

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


class Shop:
    def __init__(self, uow: UnitOfWorkFactory, store: SqlTelemetryStore | None) -> None:
        self.uow = uow
        self.telemetry = store
        self.factory: Factory = init_factory(uow, DEMO_FACTORY, FixedClock(T0))
        with uow() as tx:
            place_order(
                tx,
                OrderRequest(
                    customer="acme",
                    lines=(OrderLine("bracket", 2, {}),),
                    due=T0 + timedelta(days=2),
                    order_id="SO-1",
                ),
                T0 - timedelta(hours=1),
            )
            release_order(tx, "SO-1", T0)
            tx.commit()

    def store(self, events: list[Event]) -> None:
        if isinstance(self.uow, MemoryUnitOfWorkFactory):
            self.uow.append_events(events)
            return
        assert self.telemetry is not None
        Ingester(
            self.telemetry, clock=FixedClock(T0), settings=IngestSettings(max_future=None)
        ).process_events(events)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop(request: pytest.FixtureRequest) -> Iterator[Shop]:
    if request.param == "memory":
        yield Shop(MemoryUnitOfWorkFactory(), None)
        return
    url = request.getfixturevalue(
        "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    yield Shop(SqlUnitOfWorkFactory(engine), SqlTelemetryStore(engine))
    engine.dispose()


def job(action: str, op: str, seq: int, good: int = 0) -> JobEvent:
    return JobEvent(
        event_id=uuid.uuid4().hex,
        machine="fdm-01",
        seq=seq,
        ts=T0 + timedelta(minutes=seq),
        action=action,  # type: ignore[arg-type]
        work_order="SO-1-1",
        operation=op,
        good=good,
    )


def test_the_event_log_gives_committed_events_in_order_after_a_position(shop: Shop) -> None:
    events = [job("started", "SO-1-1-1", 0), job("finished", "SO-1-1-1", 1, good=2)]
    shop.store(events)
    shop.store(events)  # a replay stores nothing new
    with shop.uow() as tx:
        stored = tx.events.after(0, 10)
        last = tx.events.last_position()
        rest = tx.events.after(stored[0].position, 10)
    assert [s.event_id for s in stored] == [e.event_id for e in events]
    assert stored[1].event == events[1] and last == stored[1].position
    assert [s.event_id for s in rest] == [events[1].event_id]


def test_the_ledger_keeps_the_cursor_and_rejections_only_when_committed(shop: Shop) -> None:
    with shop.uow() as tx:
        assert tx.reactor.lock("r") == ReactorProgress(0, 0, 0)
        tx.reactor.advance("r", ReactorProgress(7, 6, 1))
        tx.reactor.reject(Rejection(7, "e7", "fdm-01", "job", T0, "unknown operation"))
        # no commit: rolled back
    with shop.uow() as tx:
        assert tx.reactor.progress("r") == ReactorProgress(0, 0, 0)
        assert tx.reactor.rejections() == []
        tx.reactor.lock("r")
        tx.reactor.advance("r", ReactorProgress(7, 6, 1))
        tx.reactor.reject(Rejection(7, "e7", "fdm-01", "job", T0, "unknown operation"))
        tx.commit()
    with shop.uow() as tx:
        assert tx.reactor.progress("r") == ReactorProgress(7, 6, 1)
        assert [r.reason for r in tx.reactor.rejections(machine="fdm-01")] == ["unknown operation"]
        assert tx.reactor.rejections(machine="cnc") == []
        tx.reactor.reject(Rejection(8, "e8", "fdm-01", "job", T0, "not running"))
        tx.commit()
    with shop.uow() as tx:
        (only,) = tx.reactor.rejections(machine="fdm-01", event_id="e7", limit=1)
        assert (only.event_id, only.reason) == ("e7", "unknown operation")
        assert [r.event_id for r in tx.reactor.rejections(event_id="e8")] == ["e8"]
        assert tx.reactor.rejections(machine="fdm-01", event_id="e9") == []
        assert [r.event_id for r in tx.reactor.rejections(machine="fdm-01")] == ["e8", "e7"]


def test_replan_requests_are_pending_until_done(shop: Shop) -> None:
    with shop.uow() as tx:
        tx.replans.request(T0, "breakdown", "fdm-01 breakdown:nozzle")
        tx.replans.request(T0, "repair", "fdm-01 repaired")
        tx.commit()
    with shop.uow() as tx:
        pending = tx.replans.pending()
        assert [p.trigger for p in pending] == ["breakdown", "repair"]
        tx.replans.mark_done([pending[0].id], T0, 3)
        tx.commit()
    with shop.uow() as tx:
        assert [p.trigger for p in tx.replans.pending()] == ["repair"]


def test_usage_counters_and_processing_start_are_kept(shop: Shop) -> None:
    with shop.uow() as tx:
        assert tx.usage.usage("fdm-01") == {}
        tx.usage.save_usage("fdm-01", PlanUsage("nozzle", 12.5, 40, T0))
        tx.usage.set_processing_since("fdm-01", T0)
        tx.commit()
    with shop.uow() as tx:
        assert tx.usage.usage("fdm-01") == {"nozzle": PlanUsage("nozzle", 12.5, 40, T0)}
        assert tx.usage.processing_since("fdm-01") == T0
        tx.usage.save_usage("fdm-01", PlanUsage("nozzle", 13.0, 41, T0))
        tx.usage.set_processing_since("fdm-01", None)
        tx.commit()
    with shop.uow() as tx:
        assert tx.usage.usage("fdm-01")["nozzle"].cycles == 41
        assert tx.usage.processing_since("fdm-01") is None


def test_progress_loads_and_saves_operations_work_orders_and_orders_in_bulk(shop: Shop) -> None:
    with shop.uow() as tx:
        snap = tx.progress.load({"SO-1-1-1", "SO-9-nope"})
        assert set(snap.operations) == {"SO-1-1-1"}
        wo = snap.work_orders["SO-1-1"]
        assert set(wo.operations) == {"SO-1-1-1", "SO-1-1-2", "SO-1-1-3"}
        assert snap.orders["SO-1"].work_orders == {"SO-1-1": WorkStatus.PLANNED}
        op = snap.operations["SO-1-1-1"]
        op.status, op.machine, op.actual_start, op.good = WorkStatus.RUNNING, "fdm-01", T0, 0
        snap.set_operation(op)
        snap.set_work_order(wo, WorkStatus.RUNNING)
        snap.set_order(snap.orders["SO-1"], OrderStatus.IN_PRODUCTION, T0, "production started")
        tx.progress.save(snap)
        tx.commit()
    with shop.uow() as tx:
        stored = tx.work_orders.get_operation("SO-1-1-1")
        assert (stored.status, stored.machine, stored.actual_start) == (
            WorkStatus.RUNNING,
            "fdm-01",
            T0,
        )
        assert tx.work_orders.get("SO-1-1").status == WorkStatus.RUNNING
        assert tx.orders.get("SO-1").status == OrderStatus.IN_PRODUCTION
        assert tx.orders.timeline("SO-1")[-1][0] == OrderStatus.IN_PRODUCTION


def test_the_reactor_runs_the_same_on_every_store(shop: Shop) -> None:
    counter = PartCounter(
        event_id=uuid.uuid4().hex, machine="fdm-01", seq=2, ts=T0 + timedelta(minutes=3), good=2
    )
    shop.store([job("started", "SO-1-1-1", 0), job("finished", "SO-1-1-1", 1, good=2), counter])
    reactor = Reactor(shop.uow, [ExecutionHandler(shop.factory), TpmHandler(shop.factory)])
    out = reactor.catch_up()
    assert (out.applied, out.rejected) == (3, 0)
    assert reactor.catch_up().applied == 0
    with shop.uow() as tx:
        op = tx.work_orders.get_operation("SO-1-1-1")
        assert (op.status, op.good) == (WorkStatus.DONE, 2)
        assert {u.cycles for u in tx.usage.usage("fdm-01").values()} == {2}
        assert tx.reactor.progress("shopfloor").applied == 3
