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

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[NotificationStore]:
    if request.param == "memory":
        yield MemoryNotificationStore()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
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
