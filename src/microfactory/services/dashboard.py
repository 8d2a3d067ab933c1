"""Read models for the dashboard and the API: machine cards (state, current job, OEE), the
factory overview, order detail with its timeline and work orders, paged lists. Each reads
through the unit-of-work ports; machine state, OEE and alerts come from the providers other
areas register (connectivity, twin/OEE, quality, maintenance) and are simply absent when
those areas are not installed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from microfactory.core.clock import Clock
from microfactory.orders import Customer, Factory, Order, OrderStatus, WorkOrder, WorkStatus
from microfactory.services.factory import current_factory
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory

T = TypeVar("T")
log = logging.getLogger("microfactory.dashboard")
UNKNOWN_STATE = "Unknown"
OPEN_ORDER = (OrderStatus.CONFIRMED, OrderStatus.RELEASED, OrderStatus.IN_PRODUCTION)
OPEN_WORK = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.RUNNING, WorkStatus.HELD)


@dataclass(frozen=True)
class MachineStatus:
    state: str
    mode: str = "idle"
    since: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MachineCard:
    id: str
    name: str
    type: str
    area: str
    capabilities: tuple[str, ...]
    cost_per_hour: float
    state: str
    mode: str
    state_since: datetime | None
    reason: str | None
    current_job: str | None
    oee_today: float | None


@dataclass(frozen=True)
class OverviewData:
    site: str
    site_name: str
    now: datetime
    machines: list[MachineCard]
    state_counts: dict[str, int]
    order_counts: dict[str, int]
    late_orders: int
    open_alerts: int
    oee_today: float | None


@dataclass(frozen=True)
class OrderDetailData:
    order: Order
    timeline: list[tuple[OrderStatus, datetime, str]]
    work_orders: list[WorkOrder]


class TtlCache:
    """A small time-to-live cache (monotonic seconds), thread-safe, stale-while-revalidate:
    an expired entry is still answered at once while one background thread recomputes it,
    so no dashboard request waits for a recomputation except the very first (cold) one.
    With a lifetime of 0 every call recomputes inline.

    `clear()` (after a change made through this process) starts a new generation: a
    computation that began before it may have read the old data, so its result is handed to
    its own caller but never stored, and the next reader computes afresh. `expire()` (after
    a change that can wait a moment: an operator's action at a station, many a second under
    a busy shift) keeps every value but lets it live at most `SETTLE_S` more: the next
    reader after that still gets it at once while a background refresh runs, so a stream of
    shop-floor actions never makes a dashboard wait for a computation (with `clear()` after
    each, every read was cold), and the change shows within `SETTLE_S` plus one
    computation. A computation that began before an `expire()` is stored with that shorter
    life too. Entries unread for
    `EVICT_AFTER` lifetimes are dropped (keys that carry a time or an id would otherwise pile
    up for the life of the process)."""

    EVICT_AFTER = 20
    SETTLE_S = 3.0
    """The most a value lives after `expire()`: the overview's own lifetime. At 1 s, fifty
    operators and ten dashboards kept the pages' read models refreshing back to back (CPU
    12.4 ms a request against 9.2, station p95 216-338 ms against 101-157 ms, dashboard p95
    94 against 46 ms; benchmarks/stations/RESULTS.md)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._generation = 0
        self._epoch = 0
        self._next_sweep = time.monotonic()
        self._refreshing: set[threading.Thread] = set()
        self._closed = False

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str, compute: Callable[[], T]) -> T:
        hit = self._items.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            fresh: T = hit[1]
            return fresh
        lock = self._lock(key)
        if hit is not None and self.ttl_s > 0 and not self._closed:
            if lock.acquire(blocking=False):
                worker = threading.Thread(
                    target=self._refresh,
                    args=(key, compute, lock, self._generation, self._epoch),
                    daemon=True,
                )
                with self._guard:
                    self._refreshing.add(worker)
                worker.start()
            stale: T = hit[1]
            return stale
        with lock:
            again = self._items.get(key)
            if again is not None and again is not hit and time.monotonic() - again[0] < self.ttl_s:
                done: T = again[1]
                return done
            generation, epoch = self._generation, self._epoch
            value = compute()
            self._store(key, value, generation, epoch)
            return value

    def _store(self, key: str, value: Any, generation: int, epoch: int) -> None:
        now = time.monotonic()
        with self._guard:
            if generation != self._generation:
                return  # computed from data read before a clear(): not for later readers
            at = now if epoch == self._epoch else min(now, now - self.ttl_s + self.SETTLE_S)
            self._items[key] = (at, value)
            if now >= self._next_sweep and self.ttl_s > 0:
                horizon = now - self.EVICT_AFTER * self.ttl_s
                for old in [k for k, (at, _) in self._items.items() if at < horizon]:
                    del self._items[old]
                    held = self._locks.get(old)
                    if held is not None and not held.locked():
                        del self._locks[old]
                self._next_sweep = now + self.ttl_s

    def _refresh(
        self,
        key: str,
        compute: Callable[[], Any],
        lock: threading.Lock,
        generation: int,
        epoch: int,
    ) -> None:
        try:
            self._store(key, compute(), generation, epoch)
        except Exception:  # keep serving the previous value; say why
            log.exception("refreshing cached %s failed", key)
        finally:
            lock.release()
            with self._guard:
                self._refreshing.discard(threading.current_thread())

    def close(self, timeout: float = 10.0) -> None:
        """Shutdown: no more background refreshes (a reader after this computes inline),
        and wait for those running (at most `timeout` seconds in all), so that none reads
        the stores after they are closed: it would open a connection nobody closes."""
        with self._guard:
            self._closed = True
            running = list(self._refreshing)
        deadline = time.monotonic() + timeout
        for thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))

    def clear(self) -> None:
        with self._guard:
            self._generation += 1
            self._items.clear()

    def expire(self) -> None:
        """Let every value live at most `SETTLE_S` more (see the class)."""
        with self._guard:
            self._epoch += 1
            soon = time.monotonic() - self.ttl_s + self.SETTLE_S
            self._items = {k: (min(at, soon), v) for k, (at, v) in self._items.items()}

    def __contains__(self, key: object) -> bool:
        return key in self._items


StatesProvider = Callable[[], dict[str, MachineStatus]]
OeeProvider = Callable[[datetime, datetime], dict[str, float]]
AlertCounter = Callable[[], int]


@dataclass
class Providers:
    """What other areas contribute to the read models; each may be missing."""

    states: StatesProvider | None = None
    oee: OeeProvider | None = None
    alert_counters: list[AlertCounter] = field(default_factory=list)


class DashboardService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        providers: Providers | None = None,
        cache: TtlCache | None = None,
        list_cache: TtlCache | None = None,
        linked: Sequence[TtlCache] = (),
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.providers = providers or Providers()
        self.cache = cache or TtlCache(0.0)
        # Work-order lists are heavy and change slowly; this process's writes clear them.
        self.list_cache = list_cache or TtlCache(self.cache.ttl_s * 5)
        self.linked: list[TtlCache] = list(linked)
        """Other caches of read models (the pages' shared cache) that a change clears too."""

    def factory(self) -> Factory:
        def load() -> Factory:
            with self.uow() as tx:
                return current_factory(tx)

        return self.cache.get("factory", load)

    def invalidate(self) -> None:
        """Forget cached reads after a change made through this process: this service's
        own and the linked caches (the pages' views: schedule, capacity, quality, ...)."""
        self.cache.clear()
        self.list_cache.clear()
        for cache in self.linked:
            cache.clear()

    def close(self, timeout: float = 10.0) -> None:
        """Shutdown: wait for the background refreshes of every cache this service reads."""
        for cache in (self.cache, self.list_cache, *self.linked):
            cache.close(timeout)

    def expire(self) -> None:
        """After a shop-floor action (a start, finish, pause, downtime at a station): the
        cached reads are refreshed in the background within 3 s, and served
        meanwhile (`TtlCache.expire`). Staff changes, which the person making them expects
        to see on the next page, `invalidate` instead."""
        self.cache.expire()
        self.list_cache.expire()
        for cache in self.linked:
            cache.expire()

    def customers(self) -> list[Customer]:
        with self.uow() as tx:
            return tx.customers.find()

    def _running_jobs(self) -> dict[str, str]:
        jobs: dict[str, str] = {}
        with self.uow() as tx:
            for wo in tx.work_orders.find(status=[WorkStatus.RUNNING]):
                for op in wo.operations:
                    if op.status == WorkStatus.RUNNING and op.machine:
                        jobs[op.machine] = f"{wo.id} · {op.name}"
        return jobs

    def day_start(self) -> datetime:
        now = self.clock.now()
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def machine_cards(self) -> list[MachineCard]:
        return self.cache.get("cards", self._machine_cards)

    def _machine_cards(self) -> list[MachineCard]:
        factory = self.factory()
        states = self.providers.states() if self.providers.states else {}
        oee: dict[str, float] = {}
        if self.providers.oee:
            oee = self.providers.oee(self.day_start(), self.clock.now())
        jobs = self._running_jobs()
        cards: list[MachineCard] = []
        for m in factory.machines:
            st = states.get(m.id, MachineStatus(UNKNOWN_STATE))
            cards.append(
                MachineCard(
                    id=m.id,
                    name=m.name,
                    type=m.type,
                    area=m.area,
                    capabilities=tuple(sorted(m.capabilities)),
                    cost_per_hour=m.cost_per_hour,
                    state=st.state,
                    mode=st.mode,
                    state_since=st.since,
                    reason=st.reason,
                    current_job=jobs.get(m.id),
                    oee_today=oee.get(m.id),
                )
            )
        return cards

    def machine(self, machine_id: str) -> MachineCard:
        from microfactory.core.errors import NotFound

        for card in self.machine_cards():
            if card.id == machine_id:
                return card
        raise NotFound(f"machine {machine_id} does not exist")

    def overview(self) -> OverviewData:
        """The overview, recomputed at most once per cache period (every dashboard and the
        live stream share it)."""
        return self.cache.get("overview", self._overview)

    def _overview(self) -> OverviewData:
        factory = self.factory()
        cards = self.machine_cards()
        counts: dict[str, int] = {}
        for c in cards:
            counts[c.state] = counts.get(c.state, 0) + 1
        now = self.clock.now()
        with self.uow() as tx:
            order_counts = {s.value: tx.orders.count(status=[s]) for s in OrderStatus}
            open_orders = tx.orders.find(status=list(OPEN_ORDER), limit=100_000)
        late = sum(1 for o in open_orders if o.due < now)
        alerts = sum(counter() for counter in self.providers.alert_counters)
        values = [c.oee_today for c in cards if c.oee_today is not None]
        return OverviewData(
            site=factory.site.id,
            site_name=factory.site.name,
            now=now,
            machines=cards,
            state_counts=counts,
            order_counts=order_counts,
            late_orders=late,
            open_alerts=alerts,
            oee_today=sum(values) / len(values) if values else None,
        )

    # orders ------------------------------------------------------------------------------
    def orders_page(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        customer: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Order], int]:
        with self.uow() as tx:
            items = tx.orders.find(status=status, customer=customer, limit=limit, offset=offset)
            if customer:
                total = len(tx.orders.find(status=status, customer=customer, limit=1_000_000))
            else:
                total = tx.orders.count(status=status)
        return items, total

    def order_detail(self, order_id: str) -> OrderDetailData:
        with self.uow() as tx:
            order = tx.orders.get(order_id)
            timeline = tx.orders.timeline(order_id)
            work_orders = tx.work_orders.find(order=order_id)
        return OrderDetailData(order, timeline, work_orders)

    def work_orders_page(
        self,
        *,
        status: Sequence[WorkStatus] | None = None,
        order: str | None = None,
        late: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[WorkOrder], int]:
        def load() -> list[WorkOrder]:
            with self.uow() as tx:
                return tx.work_orders.find(status=status, order=order)

        key = f"wo:{sorted(status or [])}:{order}"
        found = self.list_cache.get(key, load)
        if late is not None:
            found = [w for w in found if self.is_late(w) == late]
        return found[offset : offset + limit], len(found)

    def work_order(self, work_order_id: str) -> WorkOrder:
        with self.uow() as tx:
            return tx.work_orders.get(work_order_id)

    def is_late(self, wo: WorkOrder) -> bool:
        """Open past its due date, or finished after it."""
        if wo.status == WorkStatus.CANCELLED:
            return False
        ends = [op.actual_end for op in wo.operations if op.actual_end is not None]
        if wo.status == WorkStatus.DONE:
            return bool(ends) and max(ends) > wo.due
        return self.clock.now() > wo.due

    def recent_window(self, hours: float) -> tuple[datetime, datetime]:
        now = self.clock.now()
        return now - timedelta(hours=hours), now


def take_order(uow: UnitOfWorkFactory, clock: Clock, req: OrderRequest, release: bool) -> Order:
    """Store a new order and, when asked, release it into work orders (one transaction)."""
    now = clock.now()
    with uow() as tx:
        order = place_order(tx, req, now)
        if release:
            release_order(tx, order.id, now)
        tx.commit()
        return tx.orders.get(order.id)


def release(uow: UnitOfWorkFactory, clock: Clock, order_id: str) -> Order:
    with uow() as tx:
        release_order(tx, order_id, clock.now())
        tx.commit()
        return tx.orders.get(order_id)


def cancel_order(uow: UnitOfWorkFactory, clock: Clock, order_id: str, note: str) -> Order:
    """Cancel an order and its open work orders (Conflict once done)."""
    with uow() as tx:
        order = tx.orders.set_status(
            order_id, OrderStatus.CANCELLED, clock.now(), note=note or "cancelled"
        )
        for wo in tx.work_orders.find(order=order_id):
            if wo.status in (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.HELD):
                tx.work_orders.set_status(wo.id, WorkStatus.CANCELLED)
        tx.commit()
        return order
