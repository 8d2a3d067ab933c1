"""Stock tables: the append-only ledger of movements, purchase orders, per-operation
material estimates (a quote's or a slicer's grams) and stock alerts. The lots themselves are
`tables.MaterialLotRow`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class MaterialMovementRow(Base):
    """One line of the stock ledger (never updated, never deleted)."""

    __tablename__ = "material_movements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    material: Mapped[str] = mapped_column(String(64), index=True)
    lot: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    quantity: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    work_order: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    operation: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")


class PurchaseOrderRow(Base):
    __tablename__ = "purchase_orders"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    material: Mapped[str] = mapped_column(String(64), index=True)
    supplier: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[float] = mapped_column(Float)
    ordered: Mapped[datetime] = mapped_column(UTCDateTime())
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    received: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    lot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class MaterialEstimateRow(Base):
    """An operation's material per part that replaces its BOM lines (quote, slicer)."""

    __tablename__ = "material_estimates"
    operation: Mapped[str] = mapped_column(String(80), primary_key=True)
    work_order: Mapped[str] = mapped_column(String(64), index=True)
    material: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))


class StockAlertRow(Base):
    __tablename__ = "stock_alerts"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    material: Mapped[str] = mapped_column(String(64))
    lot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    message: Mapped[str] = mapped_column(Text)


Index("ix_material_movements_kind_at", MaterialMovementRow.kind, MaterialMovementRow.at)
