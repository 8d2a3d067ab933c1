"""materials: lots by unit with location, expiry and cost; the stock ledger replaces
lot_consumption; purchase orders, material estimates, stock alerts

Existing data is kept: each lot's consumption rows become issue movements, and its opening
receipt is what it holds now plus what was consumed, so the mass balance holds from the
start.

Revision ID: 0018m_materials
Revises: 0017_event_path
Create Date: 2026-12-08
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0018m_materials"
down_revision = "0017_event_path"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = microfactory.store.base.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("material_lots", schema=None) as batch_op:
        batch_op.alter_column("quantity_kg", new_column_name="quantity")
        batch_op.add_column(
            sa.Column("location", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("expires", When(), nullable=True))
        batch_op.add_column(sa.Column("cost", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("purchase_order", sa.String(length=64), nullable=True))
    op.create_table(
        "material_movements",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_movements")),
    )
    op.create_index(op.f("ix_material_movements_material"), "material_movements", ["material"])
    op.create_index(op.f("ix_material_movements_lot"), "material_movements", ["lot"])
    op.create_index(op.f("ix_material_movements_work_order"), "material_movements", ["work_order"])
    op.create_index("ix_material_movements_kind_at", "material_movements", ["kind", "at"])
    _ledger_from_consumption()
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lot_consumption_material_lot"))
        batch_op.drop_index(batch_op.f("ix_lot_consumption_work_order"))
    op.drop_table("lot_consumption")
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("ordered", When(), nullable=False),
        sa.Column("due", When(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received", When(), nullable=True),
        sa.Column("received_quantity", sa.Float(), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    op.create_index(op.f("ix_purchase_orders_material"), "purchase_orders", ["material"])
    op.create_index(op.f("ix_purchase_orders_status"), "purchase_orders", ["status"])
    op.create_table(
        "material_estimates",
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("operation", name=op.f("pk_material_estimates")),
    )
    op.create_index(op.f("ix_material_estimates_work_order"), "material_estimates", ["work_order"])
    op.create_table(
        "stock_alerts",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("at", When(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_alerts")),
    )
    op.create_index(op.f("ix_stock_alerts_kind"), "stock_alerts", ["kind"])
    op.create_index(op.f("ix_stock_alerts_at"), "stock_alerts", ["at"])


def _ledger_from_consumption() -> None:
    """Each lot: a receipt of what it holds plus what it gave, then one issue per
    consumption row."""
    conn = op.get_bind()
    lots = sa.table(
        "material_lots",
        sa.column("id", sa.String()),
        sa.column("material", sa.String()),
        sa.column("quantity", sa.Float()),
        sa.column("received", When()),
        sa.column("supplier", sa.String()),
    )
    used = sa.table(
        "lot_consumption",
        sa.column("id", sa.Integer()),
        sa.column("material_lot", sa.String()),
        sa.column("work_order", sa.String()),
        sa.column("operation", sa.String()),
        sa.column("quantity_kg", sa.Float()),
        sa.column("at", When()),
    )
    movements = sa.table(
        "material_movements",
        sa.column("kind", sa.String()),
        sa.column("material", sa.String()),
        sa.column("lot", sa.String()),
        sa.column("quantity", sa.Float()),
        sa.column("at", When()),
        sa.column("work_order", sa.String()),
        sa.column("operation", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("source", sa.String()),
    )
    material_of: dict[str, str] = {}
    rows: list[dict[str, object]] = []
    consumed: dict[str, float] = {}
    issues: list[dict[str, Any]] = []
    for found in conn.execute(sa.select(used).order_by(used.c.id)).mappings():
        use = dict(found)
        consumed[use["material_lot"]] = consumed.get(use["material_lot"], 0.0) + use["quantity_kg"]
        issues.append(use)
    for lot in conn.execute(sa.select(lots)).mappings():
        material_of[lot["id"]] = lot["material"]
        received = consumed.get(lot["id"], 0.0) + lot["quantity"]
        if received <= 0:
            continue
        rows.append(
            {
                "kind": "receipt",
                "material": lot["material"],
                "lot": lot["id"],
                "quantity": received,
                "at": lot["received"] or datetime(2000, 1, 1, tzinfo=UTC),
                "work_order": None,
                "operation": None,
                "reason": "opening stock (migrated)",
                "source": "migration",
            }
        )
    for use in issues:
        if use["material_lot"] not in material_of or use["quantity_kg"] <= 0:
            continue
        rows.append(
            {
                "kind": "issue",
                "material": material_of[str(use["material_lot"])],
                "lot": use["material_lot"],
                "quantity": use["quantity_kg"],
                "at": use["at"],
                "work_order": use["work_order"],
                "operation": use["operation"],
                "reason": "",
                "source": "migration",
            }
        )
    if rows:
        conn.execute(sa.insert(movements), rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_alerts_at"), table_name="stock_alerts")
    op.drop_index(op.f("ix_stock_alerts_kind"), table_name="stock_alerts")
    op.drop_table("stock_alerts")
    op.drop_index(op.f("ix_material_estimates_work_order"), table_name="material_estimates")
    op.drop_table("material_estimates")
    op.drop_index(op.f("ix_purchase_orders_status"), table_name="purchase_orders")
    op.drop_index(op.f("ix_purchase_orders_material"), table_name="purchase_orders")
    op.drop_table("purchase_orders")
    op.create_table(
        "lot_consumption",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("material_lot", sa.String(length=64), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("quantity_kg", sa.Float(), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_consumption")),
    )
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lot_consumption_material_lot"), ["material_lot"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lot_consumption_work_order"), ["work_order"], unique=False
        )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO lot_consumption (material_lot, work_order, operation, quantity_kg, at) "
            "SELECT lot, work_order, operation, quantity, at FROM material_movements "
            "WHERE kind = 'issue' AND lot IS NOT NULL AND work_order IS NOT NULL "
            "AND operation IS NOT NULL ORDER BY id"
        )
    )
    op.drop_index("ix_material_movements_kind_at", table_name="material_movements")
    op.drop_index(op.f("ix_material_movements_work_order"), table_name="material_movements")
    op.drop_index(op.f("ix_material_movements_lot"), table_name="material_movements")
    op.drop_index(op.f("ix_material_movements_material"), table_name="material_movements")
    op.drop_table("material_movements")
    with op.batch_alter_table("material_lots", schema=None) as batch_op:
        batch_op.drop_column("purchase_order")
        batch_op.drop_column("cost")
        batch_op.drop_column("expires")
        batch_op.drop_column("location")
        batch_op.alter_column("quantity", new_column_name="quantity_kg")
