"""Station actions in the server: requests hand their events to one background applier,
which stores the queued events in one transaction and applies them in one reactor batch.
Every action is applied exactly once however many operators press at the same moment; a
refusal is still the reactor's, recorded, and answered as `Conflict`; when the applier is
behind, the answer comes after the bounded wait with the action stored and pending, and the
applier applies it later; the applier's threads end by themselves when idle."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from microfactory.core.errors import Conflict
from microfactory.services.ports import UnitOfWork
from microfactory.services.reactor import Applied, BackgroundApplier, Reactor
from microfactory.services.stations import StationAction, StationService
from microfactory.shopfloor.records import StoredEvent

from .conftest import Shop


def background(shop: Shop, reactor: Reactor | None = None, wait_s: float = 5.0) -> StationService:
    service = shop.container.stations(shop.factory, shop.clock, background=True)
    assert service.applier is not None
    if reactor is not None:  # the same service, its applier on another reactor
        service.applier = BackgroundApplier(reactor, service.planning.serve_requests, idle_s=0.2)
        service.applier.intake = service._intake
        service.reactor = reactor
    service.wait_s = wait_s
    return service


def count(shop: Shop, sql: str) -> int:
    with shop.container.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def test_concurrent_operators_are_each_applied_once(sqlite_shop: Shop) -> None:
    service = background(sqlite_shop)
    firsts = [p for p in sqlite_shop.plan if p.operation.endswith("-1")]
    assert len(firsts) >= 2

    def work(op: str) -> tuple[str, str]:
        started = service.record_job(StationAction(op, "started", "anna"))
        finished = service.record_job(StationAction(op, "finished", "anna", good=5))
        assert started.applied and finished.applied
        return started.operation.status.value, finished.operation.status.value

    with ThreadPoolExecutor(len(firsts)) as pool:
        outcomes = list(pool.map(work, [p.operation for p in firsts]))
    assert outcomes == [("running", "done")] * len(firsts)
    events = count(sqlite_shop, "SELECT count(*) FROM tm_events")
    assert events == 2 * len(firsts)
    progress = service.reactor.progress()
    assert (progress.applied, progress.rejected) == (events, 0)
    assert service.applier is not None and service.applier.batches <= events


def test_a_refused_action_is_the_reactors_and_stays_recorded(sqlite_shop: Shop) -> None:
    service = background(sqlite_shop)
    op = sqlite_shop.plan[0].operation
    service.record(StationAction(op, "started", "anna"))
    with pytest.raises(Conflict, match="already running"):
        service.record(StationAction(op, "started", "bert"))
    assert count(sqlite_shop, "SELECT count(*) FROM tm_events") == 2
    assert service.reactor.progress().rejected == 1


class Gate:
    """A handler that holds every batch with a job event until the gate opens: an applier
    that is behind (a long batch, a busy database)."""

    kinds = frozenset({"job"})

    def __init__(self) -> None:
        self.open = threading.Event()

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        assert self.open.wait(30), "the test never opened the gate"

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        pass

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        pass


def test_an_action_the_applier_is_behind_on_is_stored_and_pending(sqlite_shop: Shop) -> None:
    gate = Gate()
    real = sqlite_shop.container.reactor(sqlite_shop.factory)
    reactor = Reactor(sqlite_shop.container.uow, [*real.handlers, gate])
    service = background(sqlite_shop, reactor, wait_s=0.3)
    op = sqlite_shop.plan[0].operation
    recorded = service.record_job(StationAction(op, "started", "anna"))
    assert not recorded.applied and recorded.operation.status.value != "running"
    assert count(sqlite_shop, "SELECT count(*) FROM tm_events") == 1  # stored: not lost
    gate.open.set()
    assert service.applier is not None
    assert service.applier.wait(count(sqlite_shop, "SELECT max(id) FROM tm_events"), 30)
    assert sqlite_shop.operation(op).status.value == "running"
    assert reactor.progress().applied == 1
    service.applier.join(10)  # idle for 0.2 s: both threads end by themselves
    assert service.applier.applier.running is False and service.applier.planner.running is False


def test_after_close_an_action_is_refused_at_once_and_nothing_is_stored(
    sqlite_shop: Shop,
) -> None:
    """Shutdown closes the applier after the last request; an action that still arrives
    is told at once that it was not recorded, instead of waiting for a store that will
    never run."""
    from microfactory.core.errors import ConnectorError

    service = background(sqlite_shop)
    op = sqlite_shop.plan[0].operation
    assert service.record_job(StationAction(op, "started", "anna")).applied
    assert service.applier is not None
    service.applier.close(5.0)
    assert service.applier.closed and not service.applier.applier.running
    with pytest.raises(ConnectorError, match="not recorded"):
        service.record_job(StationAction(op, "finished", "anna", good=5))
    assert count(sqlite_shop, "SELECT count(*) FROM tm_events") == 1
