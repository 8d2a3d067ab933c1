"""Tables of execution and TPM: the current plan of each operation (planned versus actual is
this table against `wo_operations`), every planning run with its trigger, maintenance work
orders (preventive, predictive, corrective) with parts and labour, and demo runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, JSONType, UTCDateTime


class OpPlanRow(Base):
    """Where and when the latest plan puts an operation; `first_end` keeps the first promise."""

    __tablename__ = "exec_op_plans"
    operation: Mapped[str] = mapped_column(String(80), primary_key=True)
    work_order: Mapped[str] = mapped_column(String(64), index=True)
    plan_no: Mapped[int] = mapped_column(Integer)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    first_end: Mapped[datetime] = mapped_column(UTCDateTime())


class PlanRunRow(Base):
    """One planning run: periodic, or a replan triggered by a breakdown, a repair, a rush
    order or a maintenance window."""

    __tablename__ = "exec_plan_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    operations: Mapped[int] = mapped_column(Integer)
    solver: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float)
    weighted_tardiness: Mapped[int] = mapped_column(Integer)


class TpmWorkOrderRow(Base):
    """A maintenance work order: open → planned → done (or cancelled)."""

    __tablename__ = "tpm_work_orders"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    plan: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    labour_hours: Mapped[float] = mapped_column(Float, default=0.0)
    checklist: Mapped[list[str]] = mapped_column(JSONType)


class TwinRunRow(Base):
    """One closed-loop run (demo): its settings and the summary it printed."""

    __tablename__ = "twin_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    seed: Mapped[int] = mapped_column(Integer)
    days: Mapped[float] = mapped_column(Float)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    bus: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)


class TpmUsageRow(Base):
    """Usage of a machine since the last renewal of one PM plan: run hours and cycles."""

    __tablename__ = "tpm_usage"
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_hours: Mapped[float] = mapped_column(Float, default=0.0)
    cycles: Mapped[int] = mapped_column(BigInteger, default=0)
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class TpmMachineRow(Base):
    """When the machine started processing (run hours accrue from there), if it is."""

    __tablename__ = "tpm_machines"
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    processing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
