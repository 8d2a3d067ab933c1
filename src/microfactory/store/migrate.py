"""Schema migrations, run programmatically with Alembic. The schema is always created by the
migrations (never by `create_all`), so SQLite and PostgreSQL databases have the same history.
Each area owns one revision chain starting from "0001_foundation"; the store upgrades to all
heads."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

import microfactory.store as store_pkg

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def import_table_modules() -> None:
    """Import every `*_tables.py` module (and tables.py) so Base.metadata knows all tables."""
    for info in pkgutil.iter_modules(store_pkg.__path__):
        if info.name == "tables" or info.name.endswith("_tables"):
            importlib.import_module(f"microfactory.store.{info.name}")


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (all heads), in one transaction per run.
    A database already at the heads is left alone without loading Alembic (a third of a
    second of every command's start-up)."""
    if _stored_heads(engine) == declared_heads():
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


_GRAPH_LINE = re.compile(
    r"^(?P<name>revision|down_revision|depends_on)\s*(?::[^=\n]*)?=(?P<value>[^\n]*)$",
    re.MULTILINE,
)
"""A top-level assignment of the revision graph (`down_revision: str | None = "0001_x"`); a
value that is not a literal on its line (a name, a tuple over lines) leaves it to Alembic."""


def declared_heads() -> set[str] | None:
    """The heads of the revision graph read from the migration files' `revision` and
    `down_revision` assignments (without importing them); None when a file does not say
    plainly, so that Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values: dict[str, object] = {}
        # one pass of a line pattern over the text: parsing each file's syntax tree took a
        # tenth of a second of every command's start-up
        for match in _GRAPH_LINE.finditer(path.read_text(encoding="utf-8")):
            try:
                values[match["name"]] = ast.literal_eval(match["value"].strip())
            except (ValueError, TypeError, SyntaxError):
                return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or values.get("depends_on") is not None:
            if path.name == "__init__.py":
                continue
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(d) for d in down)
        elif down is not None:
            return None
    return revisions - parents


def _stored_heads(engine: Engine) -> set[str] | None:
    """The revisions recorded in the database, or None without a migration table."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def current_heads(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def expected_heads() -> set[str]:
    from alembic.script import ScriptDirectory

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
