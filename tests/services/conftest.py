"""A shop with the demo factory on each store: in memory, SQLite and PostgreSQL (the same
contract), and a replan queue reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.services.factory import init_factory
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    if request.param == "memory":
        factory: UnitOfWorkFactory = MemoryUnitOfWorkFactory()
        init_factory(factory, DEMO_FACTORY)
        yield factory
        return
    url = request.getfixturevalue(
        "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    sql = SqlUnitOfWorkFactory(engine)
    init_factory(sql, DEMO_FACTORY)
    yield sql
    engine.dispose()


class Planning:
    """The planning service's `request` over the store's replan queue (what
    `PlanningService.request` does), so tests read what planning was told."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def request(self, at: datetime, trigger: str, reason: str = "") -> None:
        with self.uow() as tx:
            tx.replans.request(at, trigger, reason)
            tx.commit()

    def pending(self) -> list[tuple[str, str]]:
        with self.uow() as tx:
            return [(r.trigger, r.reason) for r in tx.replans.pending()]
