"""Tables of a planner's pins and of the orders a rush event marked rush."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, UTCDateTime


class PlanPinRow(Base):
    __tablename__ = "planning_pins"
    operation: Mapped[str] = mapped_column(String(80), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RushOrderRow(Base):
    __tablename__ = "planning_rush_orders"
    order: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
