"""The event reactor: the one place where committed shop-floor events change the shop's state.

Machines over MQTT / OPC UA, printer hosts, the digital twin and people at a station all
produce the same events; the ingester validates and commits them to the event store; the
reactor then reads them in commit order and hands each to the handlers of its kind:

* job events      → execution (operations, work orders and orders move; planned vs actual),
* state, counter  → TPM (usage counters, PM due, maintenance work orders started and done),
                    and planning (a breakdown or a repair: downtime + a replan request),
* measurement     → SPC (alerts, NCR, lot hold that stops dispatch),
* job (finished)  → materials (issued from stock by lot; discrepancy and low-stock alerts),
* every event     → predictive maintenance, at most every `predict_hours` of event time.

**Exactly once in effect.** One batch is one unit of work: the reactor takes its lock,
reads its cursor (the last applied position), applies the next events and moves the cursor
in the same transaction. A crash before the commit leaves nothing applied and the cursor
where it was; after it, everything and the cursor moved. A restart goes on from the cursor.

**What cannot be applied is kept, not lost.** A handler refuses an event with
`EventRejected(reason)` *before* it writes anything; the reactor records the rejection (the
event, the reason) in the same transaction and goes on. Any other failure rolls the batch
back and the reactor applies the same events again one per transaction, so one event that
breaks a handler is recorded as rejected ("internal error: ...", logged and counted) and
cannot hold the others back. If even recording it fails, the store itself is failing and
the error is raised (the events stay unapplied; a restart retries them).

**After the commit** the reactor tells its listeners what changed (`Applied`): the
dispatcher refreshes its view, the planning service serves replan requests, the twin
schedules maintenance windows. Listeners only read; every change was already committed.

Handlers are plain objects with `kinds`, `prepare(tx, events)` (once per batch, to load in
bulk what its events name), `apply(tx, event, out)` and `finish(tx, out)` (once per batch:
write in bulk, and checks over everything the batch changed, e.g. PM due). A new
area plugs in by adding a handler to the list `bootstrap` gives the reactor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from microfactory.core.errors import MicrofactoryError
from microfactory.services.background import Worker
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory
from microfactory.shopfloor.records import ReactorProgress, Rejection, StoredEvent

log = logging.getLogger(__name__)


class EventRejected(MicrofactoryError):
    """A handler cannot apply an event; raised before the handler wrote anything."""


@dataclass
class Applied:
    """What one committed batch changed, for the listeners (read side) — never a way to
    change state."""

    first: int = 0
    last: int = 0
    events: int = 0
    applied: int = 0
    rejected: int = 0
    newest: datetime | None = None
    # operation -> (its new status, good parts); what the dispatcher's view needs
    operations: dict[str, tuple[str, int]] = field(default_factory=dict)
    work_orders_done: list[str] = field(default_factory=list)
    holds_changed: bool = False
    downtimes_changed: bool = False
    maintenance_windows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    replans_requested: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    stock_changed: bool = False
    stock_alerts: list[Any] = field(default_factory=list)

    def merge(self, other: Applied) -> None:
        self.first = self.first or other.first
        self.last = max(self.last, other.last)
        self.events += other.events
        self.applied += other.applied
        self.rejected += other.rejected
        if other.newest is not None and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest
        self.operations.update(other.operations)
        self.work_orders_done.extend(other.work_orders_done)
        self.holds_changed = self.holds_changed or other.holds_changed
        self.downtimes_changed = self.downtimes_changed or other.downtimes_changed
        self.maintenance_windows.extend(other.maintenance_windows)
        self.warnings.extend(other.warnings)
        self.alerts.extend(other.alerts)
        self.replans_requested += other.replans_requested
        self.rejections.extend(other.rejections)
        self.stock_changed = self.stock_changed or other.stock_changed
        self.stock_alerts.extend(other.stock_alerts)


class EventHandler(Protocol):
    kinds: frozenset[str]

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        """Called once per batch before its events (load in bulk what they name)."""
        ...

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        """Apply one event inside the batch's transaction; raise `EventRejected` (before
        writing) when it cannot be applied."""
        ...

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        """Called once per batch after its events, in the same transaction."""
        ...


Listener = Callable[[Applied], None]


@dataclass(frozen=True)
class ReactorSettings:
    name: str = "shopfloor"
    batch: int = 1000

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("the reactor's batch must be at least one event")


@dataclass
class ReactorCounters:
    applied: int = 0
    rejected: int = 0
    batches: int = 0
    internal_errors: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "rejected": self.rejected,
            "batches": self.batches,
            "internal_errors": self.internal_errors,
            "seconds": round(self.seconds, 3),
        }


class Reactor:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        handlers: Sequence[EventHandler],
        settings: ReactorSettings | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.uow = uow
        self.handlers = list(handlers)
        self.settings = settings or ReactorSettings()
        self.listeners = list(listeners)
        self.counters = ReactorCounters()
        self._by_kind: dict[str, list[EventHandler]] = {}
        for handler in self.handlers:
            for kind in handler.kinds:
                self._by_kind.setdefault(kind, []).append(handler)

    # -- one batch ------------------------------------------------------------------------

    def step(self) -> Applied | None:
        """Apply the next batch of committed events; None when there was nothing to apply."""
        began = time.perf_counter()
        try:
            out = self._batch(self.settings.batch)
        except EventRejected:
            raise
        except Exception as exc:  # a handler failed: isolate the event, one per transaction
            log.warning("reactor batch failed (%s); applying its events one by one", exc)
            out = self._one_by_one(self.settings.batch)
        self.counters.seconds += time.perf_counter() - began
        if out is None:
            return None
        self.counters.applied += out.applied
        self.counters.rejected += out.rejected
        self.counters.batches += 1
        for listener in self.listeners:
            listener(out)
        return out

    def catch_up(self, max_batches: int | None = None) -> Applied:
        """Apply until the cursor reaches the newest committed event."""
        total = Applied()
        n = 0
        while max_batches is None or n < max_batches:
            out = self.step()
            if out is None:
                break
            total.merge(out)
            n += 1
            if out.events < self.settings.batch:
                break  # a short batch was the end of the store
        return total

    def _batch(self, limit: int) -> Applied | None:
        name = self.settings.name
        with self.uow() as tx:
            progress = tx.reactor.lock(name)
            events = tx.events.after(progress.position, limit)
            if not events:
                return None
            out = Applied(first=events[0].position, events=len(events))
            for handler in self.handlers:
                handler.prepare(tx, events)
            for stored in events:
                self._apply(tx, stored, out)
            for handler in self.handlers:
                handler.finish(tx, out)
            out.last = events[-1].position
            tx.reactor.advance(
                name,
                ReactorProgress(
                    out.last, progress.applied + out.applied, progress.rejected + out.rejected
                ),
            )
            tx.commit()
        return out

    def _apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        if out.newest is None or stored.ts > out.newest:
            out.newest = stored.ts
        try:
            for handler in self._by_kind.get(stored.kind, ()):
                handler.apply(tx, stored, out)
        except EventRejected as exc:
            self._reject(tx, stored, str(exc), out)
            return
        out.applied += 1

    @staticmethod
    def _reject(tx: UnitOfWork, stored: StoredEvent, reason: str, out: Applied) -> None:
        rejection = Rejection(
            stored.position, stored.event_id, stored.machine, stored.kind, stored.ts, reason
        )
        tx.reactor.reject(rejection)
        out.rejected += 1
        out.rejections.append(rejection)

    def _one_by_one(self, limit: int) -> Applied | None:
        total: Applied | None = None
        for _ in range(limit):
            try:
                out = self._batch(1)
            except Exception as exc:
                out = self._reject_failed(exc)
            if out is None:
                break
            if total is None:
                total = out
            else:
                total.merge(out)
        return total

    def _reject_failed(self, exc: Exception) -> Applied | None:
        """The next event broke a handler: record it as rejected and move past it."""
        name = self.settings.name
        with self.uow() as tx:
            progress = tx.reactor.lock(name)
            events = tx.events.after(progress.position, 1)
            if not events:
                return None
            stored = events[0]
            log.error(
                "event %s (%s of %s) could not be applied: %r",
                stored.event_id,
                stored.kind,
                stored.machine,
                exc,
            )
            self.counters.internal_errors += 1
            out = Applied(first=stored.position, last=stored.position, newest=stored.ts)
            self._reject(tx, stored, f"internal error: {type(exc).__name__}: {exc}"[:500], out)
            tx.reactor.advance(
                name,
                ReactorProgress(stored.position, progress.applied, progress.rejected + 1),
            )
            tx.commit()
        return out

    # -- reads ------------------------------------------------------------------------------

    def progress(self) -> ReactorProgress:
        with self.uow() as tx:
            return tx.reactor.progress(self.settings.name)

    def lag(self) -> int:
        """Stored events not applied yet."""
        with self.uow() as tx:
            return tx.events.last_position() - tx.reactor.progress(self.settings.name).position


# -- applying off the request --------------------------------------------------------------


class BackgroundApplier:
    """Applies stored events off the request: whoever stored an event calls `poke` and, if
    it needs the outcome, `wait(position, timeout)`. One thread runs the reactor to the end
    of the store, so the events of many requests that arrive while a batch runs are applied
    together in the next one (one transaction, one cursor move) instead of one reactor run per
    request queueing for SQLite's writer lock. Exactly-once stays the reactor's: the batch and
    its cursor commit together, and the reactor's lock keeps this thread, a runtime in the
    same process (`serve --run`) and other processes from applying the same events twice.

    Replans the applied events asked for are served by `serve` (the planning service) on a
    second thread, so a solve of several seconds never holds the next batch back.

    `intake`, when set, runs on the applier's thread before each batch: the station service
    stores there, in one transaction, the events its requests handed over (group commit), so
    that SQLite's one writer is this thread instead of every request in turn."""

    def __init__(
        self,
        reactor: Reactor,
        serve: Callable[[], object] | None = None,
        *,
        idle_s: float = 5.0,
    ) -> None:
        self.reactor = reactor
        self.serve = serve
        self.intake: Callable[[], None] | None = None
        self._applied = threading.Condition()
        self._position = -1  # the reactor's cursor as last seen; -1: not read yet
        self.batches = 0
        self.applier = Worker("station-applier", self._apply, idle_s)
        self.planner = Worker("station-replans", self._replan, idle_s)

    @property
    def position(self) -> int:
        """The last applied position this applier has seen (-1 before its first run)."""
        with self._applied:
            return self._position

    def poke(self) -> None:
        """New events are stored: apply them soon."""
        self.applier.poke()

    def wait(self, position: int, timeout: float) -> bool:
        """Poke, then wait until the event at `position` is applied (or `timeout` seconds
        passed: False — it stays stored and is applied later)."""
        self.poke()
        with self._applied:
            return self._applied.wait_for(lambda: self._position >= position, timeout)

    def _apply(self) -> None:
        try:
            if self.intake is not None:  # store what waits to be stored: one transaction
                self.intake()
            out = self.reactor.catch_up()
        finally:  # also after a failure: the waiters see where the cursor stands
            position = self.reactor.progress().position
            with self._applied:
                self._position = max(self._position, position)
                self._applied.notify_all()
        if out.events:
            self.batches += 1  # runs that applied something (a poke may find nothing new)
        if out.replans_requested and self.serve is not None:
            self.planner.poke()

    def _replan(self) -> None:
        assert self.serve is not None
        self.serve()

    @property
    def closed(self) -> bool:
        """Whether `close` was called: handed-over events would never be stored."""
        return self.applier.closed

    def close(self, timeout: float = 10.0) -> None:
        """Shutdown: both threads end after the batch or replan they are running (events
        stored and not yet applied stay stored: the next applier applies them)."""
        self.applier.close(timeout)
        self.planner.close(timeout)

    def join(self, timeout: float = 10.0) -> None:
        """Wait until both threads have ended (they end `idle_s` after the last poke)."""
        self.applier.join(timeout)
        self.planner.join(timeout)
