"""Notification tables: the e-mail outbox (one row per message, unique by its key so that a
scan run twice queues nothing twice; retried until sent), each user's notification settings,
and named marks (when notifications were switched on: nothing older is announced)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from microfactory.store.base import Base, UTCDateTime


class NotificationOutboxRow(Base):
    __tablename__ = "notification_outbox"
    __table_args__ = (UniqueConstraint("key", name="uq_notification_outbox_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class NotificationPrefsRow(Base):
    __tablename__ = "notification_prefs"
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    kinds: Mapped[str] = mapped_column(String(200), default="")
    min_severity: Mapped[str] = mapped_column(String(16), default="warning")


class NotificationMarkRow(Base):
    __tablename__ = "notification_marks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


OUTBOX_KEYS = (
    "id",
    "key",
    "kind",
    "recipient",
    "subject",
    "body",
    "status",
    "created",
    "attempts",
    "next_attempt",
    "sent_at",
    "last_error",
)


def _row(r: NotificationOutboxRow) -> dict[str, Any]:
    return {k: getattr(r, k) for k in OUTBOX_KEYS}


class SqlNotificationStore:
    """`NotificationStore` on SQLAlchemy (SQLite, PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with Session(self.engine) as s:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                found.update(
                    s.scalars(
                        select(NotificationOutboxRow.key).where(
                            NotificationOutboxRow.key.in_(chunk)
                        )
                    )
                )
        return found

    def enqueue(self, rows: Sequence[dict[str, Any]]) -> int:
        """Adds the rows whose key is new; returns how many were added."""
        added = 0
        for row in rows:
            try:
                with Session(self.engine) as s, s.begin():
                    s.add(NotificationOutboxRow(**row))
                added += 1
            except IntegrityError:
                continue  # queued already (another scan got there first)
        return added

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            rows = s.scalars(
                select(NotificationOutboxRow)
                .where(
                    NotificationOutboxRow.status == "pending",
                    NotificationOutboxRow.next_attempt <= now,
                )
                .order_by(NotificationOutboxRow.id)
                .limit(limit)
            ).all()
            return [_row(r) for r in rows]

    def mark_sent(self, row_id: int, at: datetime) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(
                update(NotificationOutboxRow)
                .where(NotificationOutboxRow.id == row_id)
                .values(
                    status="sent",
                    sent_at=at,
                    attempts=NotificationOutboxRow.attempts + 1,
                    last_error="",
                )
            )

    def mark_failed(self, row_id: int, error: str, retry_at: datetime) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(
                update(NotificationOutboxRow)
                .where(NotificationOutboxRow.id == row_id)
                .values(
                    attempts=NotificationOutboxRow.attempts + 1,
                    last_error=error[:2000],
                    next_attempt=retry_at,
                )
            )

    def outbox(self, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = select(NotificationOutboxRow).order_by(NotificationOutboxRow.id.desc())
        if status is not None:
            query = query.where(NotificationOutboxRow.status == status)
        with Session(self.engine) as s:
            return [_row(r) for r in s.scalars(query.limit(limit))]

    def prefs(self) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            return [
                {
                    "username": r.username,
                    "email": r.email,
                    "kinds": [k for k in r.kinds.split(",") if k],
                    "min_severity": r.min_severity,
                }
                for r in s.scalars(select(NotificationPrefsRow))
            ]

    def save_prefs(
        self, username: str, email: str, kinds: Sequence[str], min_severity: str
    ) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(NotificationPrefsRow, username)
            if row is None:
                row = NotificationPrefsRow(username=username)
                s.add(row)
            row.email = email
            row.kinds = ",".join(kinds)
            row.min_severity = min_severity

    def mark(self, name: str, at: datetime) -> datetime:
        """The mark `name`, set to `at` the first time."""
        with Session(self.engine) as s, s.begin():
            row = s.get(NotificationMarkRow, name)
            if row is None:
                s.add(NotificationMarkRow(name=name, at=at))
                return at
            return row.at

    def recent_quotes(self, since: datetime) -> list[dict[str, Any]]:
        """Quotes made for a customer since `since`, with their state (the quote-sent
        notices' safety net)."""
        from microfactory.store.quoting_tables import QuoteRow

        with Session(self.engine) as s:
            rows = s.scalars(
                select(QuoteRow).where(QuoteRow.created_at >= since, QuoteRow.customer.is_not(None))
            ).all()
            return [_quote(r) for r in rows]

    def quote(self, quote_id: str) -> dict[str, Any] | None:
        """One stored quote in the shape of `recent_quotes`; None when unknown."""
        from microfactory.store.quoting_tables import QuoteRow

        with Session(self.engine) as s:
            row = s.get(QuoteRow, quote_id)
            return None if row is None else _quote(row)


def _quote(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "status": r.status,
        "customer": r.customer,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "material": r.material,
        "quantity": r.quantity,
        "price": r.price,
        "currency": r.currency,
        "promised_date": r.promised_date,
        "model": r.model,
    }
