"""Documents fixtures: the demo factory on a fresh database, order SO-1 (10 black brackets)
finished through the ingester and the reactor (print, deburr, inspect: 9 good, 1 scrap, PLA
issued from stock), with five hole-pitch measurements on its lot; order SO-2 released only."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from anyio.from_thread import start_blocking_portal

from api.support import FAST_HASHER, PASSWORD, Client, Env
from microfactory.access import Role
from microfactory.api.composition import build_app
from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.shopfloor.events import JobEvent

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
PITCHES = (40.01, 39.98, 40.05, 40.00, 40.31)  # the last one outside USL 40.2


@dataclass
class Shop:
    container: Container
    factory: Factory


def release(
    container: Container, order_id: str, lines: tuple[OrderLine, ...], customer: str
) -> None:
    with container.uow() as tx:
        place_order(
            tx,
            OrderRequest(customer, lines, T0 + timedelta(days=5), order_id=order_id),
            T0 - timedelta(hours=1),
        )
        release_order(tx, order_id, T0 - timedelta(hours=1))
        tx.commit()


def finish(container: Container, factory: Factory, ops: list[tuple[str, str, int, int]]) -> None:
    seq = itertools.count()
    events = []
    for op, machine, good, scrap in ops:
        n = next(seq)
        for action in ("started", "finished"):
            events.append(
                JobEvent(
                    event_id=f"job-{op}-{action}",
                    machine=machine,
                    seq=2 * n + (action == "finished"),
                    ts=T0 + timedelta(minutes=60 * n + (50 if action == "finished" else 0)),
                    action=action,
                    work_order=op.rsplit("-", 1)[0],
                    operation=op,
                    good=good if action == "finished" else 0,
                    reject=scrap if action == "finished" else 0,
                )
            )
    ingester = Ingester(
        container.telemetry(),
        clock=FixedClock(T0 + timedelta(days=1)),
        known_machines=list(factory.machine_map),
        settings=IngestSettings(max_future=None),
    )
    assert not ingester.process_events(events).dead
    container.reactor(factory).catch_up()


@pytest.fixture
def shop(migrated_db_url: str) -> Iterator[Shop]:
    container = bootstrap(db_url=migrated_db_url)
    factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(T0))
    release(container, "SO-1", (OrderLine("bracket", 10, {"colour": "black"}),), "acme")
    release(container, "SO-2", (OrderLine("bracket", 4, {"colour": "white"}),), "volt")
    finish(
        container,
        factory,
        [
            ("SO-1-1-1", "fdm-01", 10, 0),
            ("SO-1-1-2", machine_for(factory, "deburr"), 10, 0),
            ("SO-1-1-3", machine_for(factory, "inspect"), 9, 1),
        ],
    )
    store = container.quality_store()
    for i, value in enumerate(PITCHES):
        store.add_measurement(
            {
                "event_id": f"m-{i}",
                "product": "bracket",
                "characteristic": "hole_pitch",
                "value": value,
                "unit": "mm",
                "machine": machine_for(factory, "inspect"),
                "part_id": f"SO-1-1-P{i + 1}",
                "lot_id": "LOT-SO-1-1",
                "ts": T0 + timedelta(hours=3, minutes=i),
            }
        )
    try:
        yield Shop(container, factory)
    finally:
        container.close()


def machine_for(factory: Factory, capability: str) -> str:
    return next(m.id for m in factory.machines if capability in m.capabilities)


@pytest.fixture
def env(shop: Shop) -> Iterator[Env]:
    """The dashboard app over the shop, a day after T0, with a viewer user."""
    clock = FixedClock(T0 + timedelta(days=1))
    app = build_app(shop.container, clock, FAST_HASHER, auth_clock=clock)
    app.state.ctx.auth.add_user("viewer", PASSWORD, Role.VIEWER)
    with ExitStack() as stack, start_blocking_portal() as portal:
        yield Env(app, shop.container, clock, {}, stack, portal)
        stack.close()


@pytest.fixture
def client(env: Env) -> Client:
    """A viewer signed in to the dashboard over the shop."""
    c, _ = env.login(Role.VIEWER)
    return c
