"""Tables of the planning service: every plan is a version (one is current), with the
planned operations of that version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, UTCDateTime


class PlanRow(Base):
    __tablename__ = "planning_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    current: Mapped[bool] = mapped_column(Boolean, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    origin: Mapped[datetime] = mapped_column(UTCDateTime())
    objective: Mapped[str] = mapped_column(String(40))
    objective_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    solver: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    weighted_tardiness: Mapped[int | None] = mapped_column(Integer, nullable=True)
    moved: Mapped[int] = mapped_column(Integer)


class PlannedOperationRow(Base):
    __tablename__ = "planning_operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("planning_plans.id"), index=True)
    operation: Mapped[str] = mapped_column(String(80), index=True)
    work_order: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    frozen: Mapped[bool] = mapped_column(Boolean)
    operator: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DowntimeRow(Base):
    """A span in which a machine cannot be planned: a breakdown (its expected end, until a
    machine-back event trims it) or a maintenance window, from re-planning events. Kept in
    the store so that every planner (CLI, API, closed loop) sees the same downtimes."""

    __tablename__ = "planning_downtimes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)


class ExclusionRow(Base):
    """`operation` must not be planned on `machine` (the print farm found the printer cannot
    run it: wrong material or nozzle loaded, too little filament, too many failed attempts)."""

    __tablename__ = "planning_exclusions"
    __table_args__ = (UniqueConstraint("operation", "machine"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation: Mapped[str] = mapped_column(String(80), index=True)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
