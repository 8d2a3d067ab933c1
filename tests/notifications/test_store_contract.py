"""The notification store's contract, run against the in-memory store and the SQL store on
SQLite and PostgreSQL: a key is queued once, due rows come oldest first, a failure keeps the
row pending until its retry time, a sent row is never due again; settings round-trip; a mark
is set once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from microfactory.services.ports import NotificationStore
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.notification_memory import MemoryNotificationStore
from microfactory.store.notification_tables import SqlNotificationStore
from microfactory.store.quoting_tables import SqlQuoteStore

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[NotificationStore]:
    if request.param == "memory":
        yield MemoryNotificationStore()
        return
    url = request.getfixturevalue(
        "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    yield SqlNotificationStore(engine)
    engine.dispose()


def row(key: str, at: datetime = NOW) -> dict[str, Any]:
    return {
        "key": key,
        "kind": "order_shipped",
        "recipient": "a@b.example",
        "subject": f"about {key}",
        "body": "text",
        "status": "pending",
        "created": at,
        "attempts": 0,
        "next_attempt": at,
        "last_error": "",
    }


def test_a_key_is_queued_once(store: NotificationStore) -> None:
    assert store.enqueue([row("k1"), row("k2")]) == 2
    assert store.enqueue([row("k1"), row("k3")]) == 1
    assert store.known_keys(["k1", "k3", "k9"]) == {"k1", "k3"}


def test_due_rows_oldest_first_and_retries_wait(store: NotificationStore) -> None:
    store.enqueue([row("a"), row("b"), row("c", NOW + timedelta(hours=1))])
    due = store.due(NOW, 10)
    assert [r["key"] for r in due] == ["a", "b"]
    store.mark_failed(due[0]["id"], "connection refused", NOW + timedelta(minutes=1))
    store.mark_sent(due[1]["id"], NOW)
    assert [r["key"] for r in store.due(NOW, 10)] == []
    later = store.due(NOW + timedelta(hours=2), 10)
    assert [r["key"] for r in later] == ["a", "c"]
    failed = next(r for r in store.outbox() if r["key"] == "a")
    assert (failed["attempts"], failed["last_error"], failed["status"]) == (
        1,
        "connection refused",
        "pending",
    )
    sent = store.outbox(status="sent")
    assert [r["key"] for r in sent] == ["b"] and sent[0]["sent_at"] == NOW


def test_settings_round_trip(store: NotificationStore) -> None:
    store.save_prefs("quinn", "q@shop.example", ["quality"], "warning")
    store.save_prefs("quinn", "q@shop.example", ["quality", "events"], "critical")
    assert store.prefs() == [
        {
            "username": "quinn",
            "email": "q@shop.example",
            "kinds": ["quality", "events"],
            "min_severity": "critical",
        }
    ]


def test_a_mark_is_set_once(store: NotificationStore) -> None:
    assert store.mark("on", NOW) == NOW
    assert store.mark("on", NOW + timedelta(days=1)) == NOW


QUOTE = {
    "id": "Q-00007",
    "created_at": NOW,
    "expires_at": NOW + timedelta(days=2),
    "status": "sent",
    "customer": "volt",
    "model": "cube.stl",
    "material": "petg",
    "quantity": 4,
    "process": "fdm",
    "machine": "fdm",
    "price": 12.5,
    "currency": "EUR",
    "promised_date": NOW + timedelta(days=3),
    "machine_hours": 1.5,
    "order_id": None,
    "payload": {},
}


def test_a_quote_is_read_with_its_state(request: pytest.FixtureRequest) -> None:
    """The quote-sent notice reads one quote (and the recent ones) with its state."""
    stores: list[NotificationStore] = [MemoryNotificationStore([QUOTE])]
    engine = make_engine(request.getfixturevalue("sqlite_url"))
    upgrade(engine)
    SqlQuoteStore(engine).add(QUOTE, [])
    stores.append(SqlNotificationStore(engine))
    try:
        for store in stores:
            found = store.quote("Q-00007")
            assert found is not None
            assert (found["status"], found["customer"], found["price"]) == ("sent", "volt", 12.5)
            assert store.quote("Q-00404") is None  # unknown: None, not an error
            assert [q["status"] for q in store.recent_quotes(NOW)] == ["sent"]
            assert store.recent_quotes(NOW + timedelta(seconds=1)) == []
    finally:
        engine.dispose()
