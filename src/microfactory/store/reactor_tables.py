"""Tables of the event reactor: its durable cursor over the event store (`tm_events.id`),
the events it could not apply (with the reason, shown to the user), and the replan requests
it raised (done by the planning service after the reactor's commit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ReactorCursorRow(Base):
    """The id of the last event (`tm_events.id`) a reactor has applied; moved in the same
    transaction as the changes the events made."""

    __tablename__ = "reactor_cursors"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class RejectionRow(Base):
    """A stored event the reactor could not apply, and why."""

    __tablename__ = "reactor_rejections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_row: Mapped[int] = mapped_column(BigInteger, index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)


class ReplanRequestRow(Base):
    """Something that changed the shop's capacity or demand (a breakdown, a repair, a rush
    order, a due PM, a hold): the plan is made again; `done` once a plan took it in."""

    __tablename__ = "replan_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    done: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    plan_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
