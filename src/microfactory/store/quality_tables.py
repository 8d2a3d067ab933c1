"""Tables of quality records: measurements per product characteristic, frozen control limits,
quality alerts, nonconformance reports (with disposition and CAPA) and lot holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, UTCDateTime


class QualityMeasurementRow(Base):
    __tablename__ = "quality_measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    product: Mapped[str] = mapped_column(String(64))
    characteristic: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32), default="")
    machine: Mapped[str] = mapped_column(String(64), default="")
    part_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())


Index(
    "ix_quality_measurements_product_characteristic",
    QualityMeasurementRow.product,
    QualityMeasurementRow.characteristic,
    QualityMeasurementRow.id,
)


class QualityLimitsRow(Base):
    """Phase I estimate frozen for Phase II monitoring of one product characteristic."""

    __tablename__ = "quality_limits"
    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    characteristic: Mapped[str] = mapped_column(String(64), primary_key=True)
    chart: Mapped[str] = mapped_column(String(16))
    center: Mapped[float] = mapped_column(Float)
    sigma: Mapped[float | None] = mapped_column(Float, nullable=True)
    subgroups_used: Mapped[int] = mapped_column(Integer)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QualityAlertRow(Base):
    __tablename__ = "quality_alerts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    product: Mapped[str] = mapped_column(String(64))
    characteristic: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    message: Mapped[str] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(16), nullable=True)
    series: Mapped[str | None] = mapped_column(String(16), nullable=True)
    point_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    machine: Mapped[str] = mapped_column(String(64), default="")
    part_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_held: Mapped[bool] = mapped_column(Boolean, default=False)
    ncr: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NonconformanceRow(Base):
    __tablename__ = "quality_ncrs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    product: Mapped[str] = mapped_column(String(64))
    characteristic: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    lsl: Mapped[float | None] = mapped_column(Float, nullable=True)
    usl: Mapped[float | None] = mapped_column(Float, nullable=True)
    opened: Mapped[datetime] = mapped_column(UTCDateTime())
    part_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    machine: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True)
    disposition_by: Mapped[str] = mapped_column(String(100), default="")
    disposition_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disposition_note: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    corrective_action: Mapped[str] = mapped_column(Text, default="")
    preventive_action: Mapped[str] = mapped_column(Text, default="")
    capa_owner: Mapped[str] = mapped_column(String(100), default="")
    capa_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LotHoldRow(Base):
    __tablename__ = "quality_lot_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ncr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    released_by: Mapped[str] = mapped_column(String(100), default="")
    release_note: Mapped[str] = mapped_column(Text, default="")
