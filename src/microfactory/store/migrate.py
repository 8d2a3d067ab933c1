"""Schema migrations, run programmatically with Alembic. The schema is always created by the
migrations (never by `create_all`), so SQLite and PostgreSQL databases have the same history.
Each area owns one revision chain starting from "0001_foundation"; the store upgrades to all
heads."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import microfactory.store as store_pkg

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def import_table_modules() -> None:
    """Import every `*_tables.py` module (and tables.py) so Base.metadata knows all tables."""
    for info in pkgutil.iter_modules(store_pkg.__path__):
        if info.name == "tables" or info.name.endswith("_tables"):
            importlib.import_module(f"microfactory.store.{info.name}")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (all heads), in one transaction per run."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def current_heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def expected_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def is_up_to_date(engine: Engine) -> bool:
    return current_heads(engine) == expected_heads()


def reset_database(engine: Engine) -> None:
    """Drop every microfactory table and the migration history (used by the demo, which
    always starts from an empty database)."""
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(bind=engine)
    with engine.begin() as conn:
        metadata.drop_all(bind=conn)
