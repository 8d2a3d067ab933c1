"""Composition root: read settings once, build the engine, run migrations, wire the unit of
work. Interfaces (CLI, API) call `bootstrap()` and pass what it returns down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from microfactory.settings import Settings
from microfactory.store.base import check_connection, make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

PACKAGE_ROOT = Path(__file__).resolve().parent
DEMO_FACTORY = PACKAGE_ROOT / "data" / "demo-factory.yaml"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None, *, db_url: str | None = None, migrate: bool = True
) -> Container:
    """Wire everything for one process. `db_url` overrides the setting (the `--db` option)."""
    settings = settings or Settings()
    if db_url:
        settings = settings.model_copy(update={"database_url": db_url})
    engine = make_engine(settings.database_url)
    check_connection(engine)
    if migrate:
        upgrade(engine)
    return Container(settings=settings, engine=engine, uow=SqlUnitOfWorkFactory(engine))
