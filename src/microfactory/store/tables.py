"""Foundation tables: the factory definition, customers, orders (with their status timeline),
work orders and operations, material lots and serial numbers (the stock ledger, purchase
orders and material estimates: `materials_tables`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.store.base import Base, JSONType, UTCDateTime


class FactoryRow(Base):
    """One row per load of a factory file; the newest is current."""

    __tablename__ = "factories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_file: Mapped[str] = mapped_column(String(500), default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)


class MachineRow(Base):
    __tablename__ = "machines"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(64))
    capabilities: Mapped[list[str]] = mapped_column(JSONType)
    cost_per_hour: Mapped[float] = mapped_column(Float)


class CustomerRow(Base):
    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    segment: Mapped[str] = mapped_column(String(32), default="standard")


class MaterialLotRow(Base):
    """A lot of stock. `quantity` is on hand, in the material's unit; it changes only with a
    movement of the ledger (`materials_tables.MaterialMovementRow`), in the same
    transaction."""

    __tablename__ = "material_lots"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    material: Mapped[str] = mapped_column(String(64), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    received: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    supplier: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(64), default="")
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    purchase_order: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OrderRow(Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer: Mapped[str] = mapped_column(String(64), index=True)
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    created: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(20), index=True)
    rush: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    tracking_token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    completed: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType)
    model_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    unit_price: Mapped[float | None] = mapped_column(Float, nullable=True)


class OrderEventRow(Base):
    """The order's status timeline (and notes such as 'promised date moved')."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class WorkOrderRow(Base):
    __tablename__ = "work_orders"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    weight: Mapped[int] = mapped_column(Integer)
    release: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    lot: Mapped[str] = mapped_column(String(64), index=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType)


class OperationRow(Base):
    __tablename__ = "wo_operations"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    work_order: Mapped[str] = mapped_column(
        String(64), ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    capability: Mapped[str] = mapped_column(String(64))
    minutes: Mapped[float] = mapped_column(Float)
    setup_family: Mapped[str | None] = mapped_column(String(100), nullable=True)
    machines: Mapped[list[str]] = mapped_column(JSONType)
    predecessors: Mapped[list[int]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), index=True)
    machine: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    good: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)


class SerialRow(Base):
    __tablename__ = "serial_numbers"
    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    work_order: Mapped[str] = mapped_column(String(64), index=True)
    lot: Mapped[str] = mapped_column(String(64), index=True)
    made: Mapped[datetime] = mapped_column(UTCDateTime())


Index("ix_wo_operations_status_machine", OperationRow.status, OperationRow.machine)
