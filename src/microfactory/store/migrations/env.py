"""Alembic environment. microfactory runs migrations programmatically (see store/migrate.py):
the connection comes in through `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context

from microfactory.store.base import Base
from microfactory.store.migrate import import_table_modules

import_table_modules()
target_metadata = Base.metadata
config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from microfactory.store.base import make_engine

        engine = make_engine(
            config.get_main_option("sqlalchemy.url") or "sqlite:///microfactory.db"
        )
        with engine.begin() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `microfactory init --db URL`")
run_migrations_online()
