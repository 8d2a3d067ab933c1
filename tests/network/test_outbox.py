"""The site's outbox: written in the change's own transaction, only when replicating, with a
gapless sequence; rows go only when acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from microfactory.core.errors import Conflict, ValidationError
from microfactory.store import outbox
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .support import Producer

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_db_url: str):  # type: ignore[no-untyped-def]
    e = make_engine(migrated_db_url)
    upgrade(e)
    yield e
    e.dispose()


def _rows(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM net_outbox")).scalar_one())


def test_a_single_site_install_writes_no_outbox_rows(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        assert outbox.enqueue(conn, [outbox.Record("order", "o1", AT, {"x": 1})]) == 0
    assert _rows(engine) == 0


def test_rows_commit_and_roll_back_with_the_change(engine) -> None:  # type: ignore[no-untyped-def]
    outbox.enable(engine, "site-a")
    with engine.begin() as conn:
        outbox.enqueue(conn, [outbox.Record("order", "o1", AT, {"x": 1})])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        outbox.enqueue(conn, [outbox.Record("order", "o2", AT, {"x": 2})])
        raise RuntimeError("the change fails")
    msgs = outbox.pending(engine)
    assert [m.msg_id for m in msgs] == ["site-a:order:o1"]
    assert msgs[0].subject == "mf.site-a.order"


def test_the_sequence_is_gapless_and_survives_a_rollback(engine) -> None:  # type: ignore[no-untyped-def]
    outbox.enable(engine, "site-a")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        outbox.enqueue(conn, [outbox.Record("order", "lost", AT, {})])
        raise RuntimeError
    with engine.begin() as conn:
        outbox.enqueue(conn, [outbox.Record("order", f"o{i}", AT, {}) for i in range(3)])
    assert [m.seq for m in outbox.pending(engine)] == [1, 2, 3]


def test_acknowledged_rows_are_deleted_and_only_they(engine) -> None:  # type: ignore[no-untyped-def]
    outbox.enable(engine, "site-a")
    with engine.begin() as conn:
        outbox.enqueue(conn, [outbox.Record("order", f"o{i}", AT, {}) for i in range(5)])
    assert outbox.acknowledge(engine, 3) == 3
    assert [m.seq for m in outbox.pending(engine)] == [4, 5]
    assert outbox.backlog(engine) == (2, 5)


def test_new_shop_floor_events_enter_the_outbox_in_the_ingesters_transaction(
    engine, migrated_db_url: str
) -> None:  # type: ignore[no-untyped-def]
    outbox.enable(engine, "site-a")
    producer = Producer("site-a", migrated_db_url)
    producer.write(10)
    with SqlTelemetryStore(engine).transaction() as tx:  # a replay adds nothing
        tx.insert_events([], 0)
    assert [m.msg_id for m in outbox.pending(engine)] == [
        f"site-a:{'state' if i % 4 == 0 else 'counter'}:site-a-{i}" for i in range(1, 11)
    ]
    producer.close()


def test_one_database_is_one_site(engine) -> None:  # type: ignore[no-untyped-def]
    outbox.enable(engine, "site-a")
    outbox.enable(engine, "site-a")  # idempotent
    with pytest.raises(Conflict):
        outbox.enable(engine, "site-b")


@pytest.mark.parametrize(
    "site",
    [
        "",  # empty
        "a.b",  # a dot would split the subject
        "a b",  # blank
        "x" * 33,  # too long
        "mf>",  # a NATS wildcard
    ],
)
def test_a_bad_site_id_is_refused(engine, site: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        outbox.enable(engine, site)


def test_samples_are_thinned_per_machine_when_asked() -> None:
    from datetime import timedelta

    from microfactory.shopfloor.events import Sample, SampleBatch

    events = [
        SampleBatch(
            event_id=f"s{i}",
            machine="m1",
            seq=i,
            ts=AT + timedelta(seconds=10 * i),
            samples=[Sample(signal="t", value=1.0)],
        )
        for i in range(12)
    ]
    ids = {e.event_id for e in events}
    assert len(outbox.event_records(events, ids, 0.0)) == 12
    assert len(outbox.event_records(events, ids, -1.0)) == 0
    assert [r.key for r in outbox.event_records(events, ids, 60.0)] == ["s0", "s6"]
