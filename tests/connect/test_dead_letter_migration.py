"""Migration 0017a: dead letters stored twice before it (one message, redelivered) become one,
and every stored dead letter gets its key, so that later redeliveries add nothing."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from microfactory.core.clock import FixedClock
from microfactory.services.ingestion import Ingester
from microfactory.store.base import make_engine
from microfactory.store.migrate import alembic_config, upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0


def test_upgrade_keys_old_dead_letters_and_keeps_one_of_each(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_telemetry")
        command.upgrade(cfg, "0016_planning_downtimes")
        for topic, payload in [("t/a", b"{bad"), ("t/a", b"{bad"), ("t/b", b"{bad"), ("t/a", b"{")]:
            conn.execute(
                text(
                    "INSERT INTO tm_dead_letters (received_us, topic, code, reason, payload) "
                    "VALUES (0, :t, 'json', 'bad JSON', :p)"
                ),
                {"t": topic, "p": payload},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, topic, key FROM tm_dead_letters ORDER BY id")).all()
    assert [(r.id, r.topic) for r in rows] == [(1, "t/a"), (3, "t/b"), (4, "t/a")]
    assert all(r.key for r in rows)
    Ingester(SqlTelemetryStore(engine), clock=FixedClock(T0)).process([("t/a", b"{bad")])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tm_dead_letters")).scalar_one() == 3
    engine.dispose()
