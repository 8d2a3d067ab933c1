"""Quotes and the capacity they reserve: the SQL store and its in-memory twin (same contract,
same tests).

A quote row keeps what the customer was told (price, date, the full public payload) and its
state: held (its reservations count in capable-to-promise until `expires_at`), sent (held,
and sent to the customer: it still reserves), accepted (turned into `order_id`) or expired
(reservations released).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Float, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from microfactory.core.errors import NotFound
from microfactory.store import outbox
from microfactory.store.base import Base, JSONType, UTCDateTime

QUOTE_KEYS = (
    "id",
    "created_at",
    "expires_at",
    "status",
    "customer",
    "model",
    "material",
    "quantity",
    "process",
    "machine",
    "price",
    "currency",
    "promised_date",
    "machine_hours",
    "order_id",
    "payload",
)
RESERVATION_KEYS = ("step", "machine", "start", "end")
RESERVING = ("held", "sent")
"""States whose reservations count in capable-to-promise until the quote expires."""


class QuoteRow(Base):
    __tablename__ = "quoting_quotes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    customer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    material: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    process: Mapped[str] = mapped_column(String(16))
    machine: Mapped[str] = mapped_column(String(64))
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    promised_date: Mapped[datetime] = mapped_column(UTCDateTime())
    machine_hours: Mapped[float] = mapped_column(Float)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ReservationRow(Base):
    __tablename__ = "quoting_reservations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    quote_id: Mapped[str] = mapped_column(ForeignKey("quoting_quotes.id"), index=True)
    step: Mapped[str] = mapped_column(String(80))
    machine: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())


class SqlQuoteStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def add(self, quote: Mapping[str, Any], reservations: Sequence[Mapping[str, Any]]) -> None:
        with self.sessions.begin() as s:
            s.add(QuoteRow(**{k: quote[k] for k in QUOTE_KEYS}))
            s.flush()
            s.add_all(
                ReservationRow(quote_id=quote["id"], **{k: r[k] for k in RESERVATION_KEYS})
                for r in reservations
            )
            outbox.enqueue(s, [outbox.quote_added(quote)])

    def get(self, quote_id: str) -> dict[str, Any]:
        with self.sessions() as s:
            row = s.get(QuoteRow, quote_id)
            if row is None:
                raise NotFound(f"quote {quote_id} does not exist")
            return {k: getattr(row, k) for k in QUOTE_KEYS}

    def set_status(self, quote_id: str, status: str, order_id: str | None = None) -> None:
        """Change the state; any state but `held` or `sent` releases the reservations."""
        with self.sessions.begin() as s:
            row = s.get(QuoteRow, quote_id)
            if row is None:
                raise NotFound(f"quote {quote_id} does not exist")
            row.status = status
            if order_id is not None:
                row.order_id = order_id
            if status not in RESERVING:
                s.execute(delete(ReservationRow).where(ReservationRow.quote_id == quote_id))
            outbox.enqueue(s, [outbox.quote_status(quote_id, status, order_id)])

    def held_reservations(self, now: datetime) -> list[dict[str, Any]]:
        """Reservations of quotes still held and not expired at `now`."""
        with self.sessions() as s:
            rows = s.execute(
                select(ReservationRow)
                .join(QuoteRow, QuoteRow.id == ReservationRow.quote_id)
                .where(QuoteRow.status.in_(RESERVING), QuoteRow.expires_at > now)
            ).scalars()
            return [{k: getattr(r, k) for k in RESERVATION_KEYS} for r in rows]

    def reservations(self, quote_id: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            rows = s.scalars(
                select(ReservationRow)
                .where(ReservationRow.quote_id == quote_id)
                .order_by(ReservationRow.start)
            )
            return [{k: getattr(r, k) for k in RESERVATION_KEYS} for r in rows]

    def expired_ids(self, now: datetime) -> list[str]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(QuoteRow.id).where(
                        QuoteRow.status.in_(RESERVING), QuoteRow.expires_at <= now
                    )
                )
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest quotes first, every state."""
        with self.sessions() as s:
            rows = s.scalars(
                select(QuoteRow)
                .order_by(QuoteRow.created_at.desc(), QuoteRow.id.desc())
                .limit(limit)
            )
            return [{k: getattr(r, k) for k in QUOTE_KEYS} for r in rows]


class MemoryQuoteStore:
    def __init__(self) -> None:
        self.quotes: dict[str, dict[str, Any]] = {}
        self.held: dict[str, list[dict[str, Any]]] = {}

    def add(self, quote: Mapping[str, Any], reservations: Sequence[Mapping[str, Any]]) -> None:
        if quote["id"] in self.quotes:
            raise ValueError(f"quote {quote['id']} exists")
        self.quotes[quote["id"]] = {k: deepcopy(quote[k]) for k in QUOTE_KEYS}
        self.held[quote["id"]] = [{k: r[k] for k in RESERVATION_KEYS} for r in reservations]

    def get(self, quote_id: str) -> dict[str, Any]:
        if quote_id not in self.quotes:
            raise NotFound(f"quote {quote_id} does not exist")
        return deepcopy(self.quotes[quote_id])

    def set_status(self, quote_id: str, status: str, order_id: str | None = None) -> None:
        if quote_id not in self.quotes:
            raise NotFound(f"quote {quote_id} does not exist")
        self.quotes[quote_id]["status"] = status
        if order_id is not None:
            self.quotes[quote_id]["order_id"] = order_id
        if status not in RESERVING:
            self.held[quote_id] = []

    def held_reservations(self, now: datetime) -> list[dict[str, Any]]:
        return [
            dict(r)
            for qid, rows in self.held.items()
            if self.quotes[qid]["status"] in RESERVING and self.quotes[qid]["expires_at"] > now
            for r in rows
        ]

    def reservations(self, quote_id: str) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self.held.get(quote_id, [])), key=lambda r: r["start"])

    def expired_ids(self, now: datetime) -> list[str]:
        return [
            q["id"]
            for q in self.quotes.values()
            if q["status"] in RESERVING and q["expires_at"] <= now
        ]

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = sorted(self.quotes.values(), key=lambda q: (q["created_at"], q["id"]), reverse=True)
        return [deepcopy(q) for q in rows[:limit]]
