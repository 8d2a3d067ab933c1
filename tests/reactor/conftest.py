"""A small planned shop for the event-path tests: the demo factory, two bracket orders
(print → deburr → inspect) planned by the planning service, and a machine-like event
factory (consecutive `seq` per machine, unique ids) that publishes what a machine would."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.planning import PlannedOperation, PlanningSettings
from microfactory.shopfloor.events import (
    Event,
    JobEvent,
    Measurement,
    PartCounter,
    StateChanged,
)
from microfactory.shopfloor.machines import MachineMode, MachineState

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


@dataclass
class Machine:
    """Numbers events 0, 1, 2, ... like a real machine; `at` moves forward on each."""

    id: str
    seq: itertools.count[int] = field(default_factory=itertools.count)
    at: datetime = T0

    def _base(self, minutes: float) -> dict[str, Any]:
        self.at += timedelta(minutes=minutes)
        return {
            "event_id": f"{self.id}-{uuid.uuid4().hex[:12]}",
            "machine": self.id,
            "seq": next(self.seq),
            "ts": self.at,
        }

    def job(self, action: str, op: str, wo: str, good: int = 0, reject: int = 0) -> JobEvent:
        return JobEvent(
            **self._base(1), action=action, work_order=wo, operation=op, good=good, reject=reject
        )

    def state(
        self,
        state: MachineState,
        mode: MachineMode = MachineMode.IDLE,
        reason: str | None = None,
        minutes: float = 1,
    ) -> StateChanged:
        return StateChanged(**self._base(minutes), state=state, mode=mode, reason=reason)

    def counter(self, good: int, reject: int = 0, wo: str | None = None) -> PartCounter:
        return PartCounter(**self._base(1), good=good, reject=reject, work_order=wo)

    def measure(self, name: str, value: float, lot: str, part: str) -> Measurement:
        return Measurement(
            **self._base(1), characteristic=name, value=value, unit="mm", lot_id=lot, part_id=part
        )


@dataclass
class Shop:
    container: Container
    factory: Factory
    plan: list[PlannedOperation]
    clock: FixedClock

    def op(self, work_order: str, seq: int) -> PlannedOperation:
        return next(
            p for p in self.plan if p.work_order == work_order and p.operation.endswith(f"-{seq}")
        )

    def operation(self, op_id: str) -> Any:
        with self.container.uow() as tx:
            return tx.work_orders.get_operation(op_id)


def planned_shop(url: str) -> Iterator[Shop]:
    container = bootstrap(db_url=url)
    factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(T0))
    clock = FixedClock(T0)
    with container.uow() as tx:
        for n, colour in ((1, "black"), (2, "white")):
            place_order(
                tx,
                OrderRequest(
                    customer="acme",
                    lines=(OrderLine("bracket", 5, {"colour": colour}),),
                    due=T0 + timedelta(days=3),
                    order_id=f"SO-{n}",
                ),
                T0 - timedelta(hours=1),
            )
            release_order(tx, f"SO-{n}", T0 - timedelta(hours=1))
        tx.commit()
    planning = container.planning(PlanningSettings(strategy="dispatch"), clock)
    version = planning.plan("first plan", release_confirmed=False)
    try:
        yield Shop(container, factory, list(version.operations), clock)
    finally:
        container.close()


@pytest.fixture
def shop(migrated_db_url: str) -> Iterator[Shop]:
    """On SQLite and on PostgreSQL."""
    yield from planned_shop(migrated_db_url)


@pytest.fixture
def sqlite_shop(migrated_sqlite_url: str) -> Iterator[Shop]:
    """For rules that do not depend on the database."""
    yield from planned_shop(migrated_sqlite_url)


def store_events(shop: Shop, events: list[Event]) -> None:
    """What the ingester does: validate, deduplicate and commit."""
    from microfactory.services.ingestion import Ingester, IngestSettings

    ingester = Ingester(
        shop.container.telemetry(),
        clock=shop.clock,
        known_machines=list(shop.factory.machine_map),
        settings=IngestSettings(max_future=None),
    )
    result = ingester.process_events(events)
    assert not result.dead, result.dead
