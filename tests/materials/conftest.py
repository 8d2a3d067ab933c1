"""Materials fixtures: one unit of work per store (in memory, SQLite, PostgreSQL), the demo
factory loaded (its opening lots received) and, for consumption, released orders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.cli.demo import DEMO_START
from microfactory.orders import Factory, OrderLine
from microfactory.orders.factory_file import load_factory, resolve_relative_times
from microfactory.services.materials import receive_opening_lots
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
FILE_TIME = DEMO_START
"""The demo file's lot times are relative: these tests read them from the demo's first day
(RES-G-2607 then expires on 2026-01-24, before T0)."""


def make_uow(kind: str, request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    if kind == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    url = request.getfixturevalue("migrated_sqlite_url" if kind == "sqlite" else "migrated_pg_url")
    engine = make_engine(url)
    upgrade(engine)
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    yield from make_uow(request.param, request)


def load_demo(uow: UnitOfWorkFactory, at: datetime = T0) -> Factory:
    factory = load_factory(DEMO_FACTORY, at=FILE_TIME)
    definition = resolve_relative_times(yaml.safe_load(DEMO_FACTORY.read_text()), FILE_TIME)
    with uow() as tx:
        tx.factory.save(factory, definition, str(DEMO_FACTORY))
        receive_opening_lots(tx, factory, at)
        tx.commit()
    return factory


def release(
    uow: UnitOfWorkFactory,
    order_id: str,
    lines: tuple[OrderLine, ...],
    customer: str = "acme",
    due_days: float = 5,
) -> None:
    with uow() as tx:
        place_order(
            tx,
            OrderRequest(customer, lines, T0 + timedelta(days=due_days), order_id=order_id),
            T0 - timedelta(hours=1),
        )
        release_order(tx, order_id, T0 - timedelta(hours=1))
        tx.commit()


@pytest.fixture
def loaded(uow: UnitOfWorkFactory) -> tuple[UnitOfWorkFactory, Factory]:
    return uow, load_demo(uow)
