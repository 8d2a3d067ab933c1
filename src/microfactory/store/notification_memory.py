"""`NotificationStore` in memory: the same contract as `SqlNotificationStore` (the tests run
both), for tests and for a process without a database. Quotes are whatever `quotes` holds."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any


class MemoryNotificationStore:
    def __init__(self, quotes: Sequence[dict[str, Any]] = ()) -> None:
        self.rows: list[dict[str, Any]] = []
        self.by_key: set[str] = set()
        self.settings: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, datetime] = {}
        self.quotes = list(quotes)
        self.lock = threading.Lock()

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        return {k for k in keys if k in self.by_key}

    def enqueue(self, rows: Sequence[dict[str, Any]]) -> int:
        added = 0
        with self.lock:
            for row in rows:
                if row["key"] in self.by_key:
                    continue
                stored = {"sent_at": None, **row, "id": len(self.rows) + 1}
                self.rows.append(stored)
                self.by_key.add(row["key"])
                added += 1
        return added

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        found = [r for r in self.rows if r["status"] == "pending" and r["next_attempt"] <= now]
        return [dict(r) for r in found[:limit]]

    def _get(self, row_id: int) -> dict[str, Any]:
        return self.rows[row_id - 1]

    def mark_sent(self, row_id: int, at: datetime) -> None:
        row = self._get(row_id)
        row.update(status="sent", sent_at=at, attempts=row["attempts"] + 1, last_error="")

    def mark_failed(self, row_id: int, error: str, retry_at: datetime) -> None:
        row = self._get(row_id)
        row.update(attempts=row["attempts"] + 1, last_error=error[:2000], next_attempt=retry_at)

    def outbox(self, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        found = [dict(r) for r in reversed(self.rows) if status is None or r["status"] == status]
        return found[:limit]

    def prefs(self) -> list[dict[str, Any]]:
        return [dict(p, kinds=list(p["kinds"])) for p in self.settings.values()]

    def save_prefs(
        self, username: str, email: str, kinds: Sequence[str], min_severity: str
    ) -> None:
        self.settings[username] = {
            "username": username,
            "email": email,
            "kinds": list(kinds),
            "min_severity": min_severity,
        }

    def mark(self, name: str, at: datetime) -> datetime:
        return self.marks.setdefault(name, at)

    def recent_quotes(self, since: datetime) -> list[dict[str, Any]]:
        return [dict(q) for q in self.quotes if q["created_at"] >= since and q.get("customer")]

    def quote(self, quote_id: str) -> dict[str, Any] | None:
        return next((dict(q) for q in self.quotes if q["id"] == quote_id), None)
