"""foundation

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import microfactory.store.base

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "factories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factories")),
    )
    op.create_table(
        "lot_consumption",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("material_lot", sa.String(length=64), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("quantity_kg", sa.Float(), nullable=False),
        sa.Column("at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_consumption")),
    )
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lot_consumption_material_lot"), ["material_lot"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lot_consumption_work_order"), ["work_order"], unique=False
        )

    op.create_table(
        "machines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cost_per_hour", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
    )
    op.create_table(
        "material_lots",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("quantity_kg", sa.Float(), nullable=False),
        sa.Column("received", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_lots")),
    )
    with op.batch_alter_table("material_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_material_lots_material"), ["material"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=False),
        sa.Column("due", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("created", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rush", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tracking_token", sa.String(length=64), nullable=True),
        sa.Column("completed", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("tracking_token", name=op.f("uq_orders_tracking_token")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_created"), ["created"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_customer"), ["customer"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "serial_numbers",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("made", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_serial_numbers")),
    )
    with op.batch_alter_table("serial_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_serial_numbers_lot"), ["lot"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_serial_numbers_work_order"), ["work_order"], unique=False
        )

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("model_ref", sa.String(length=500), nullable=True),
        sa.Column("unit_price", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("due", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("release", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_work_orders_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_orders_lot"), ["lot"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_status"), ["status"], unique=False)

    op.create_table(
        "wo_operations",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capability", sa.String(length=64), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("setup_family", sa.String(length=100), nullable=True),
        sa.Column(
            "machines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "predecessors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("actual_start", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("actual_end", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order"],
            ["work_orders.id"],
            name=op.f("fk_wo_operations_work_order_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wo_operations")),
    )
    with op.batch_alter_table("wo_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wo_operations_machine"), ["machine"], unique=False)
        batch_op.create_index(batch_op.f("ix_wo_operations_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_wo_operations_status_machine", ["status", "machine"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_wo_operations_work_order"), ["work_order"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("wo_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wo_operations_work_order"))
        batch_op.drop_index("ix_wo_operations_status_machine")
        batch_op.drop_index(batch_op.f("ix_wo_operations_status"))
        batch_op.drop_index(batch_op.f("ix_wo_operations_machine"))

    op.drop_table("wo_operations")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_orders_status"))
        batch_op.drop_index(batch_op.f("ix_work_orders_order_id"))
        batch_op.drop_index(batch_op.f("ix_work_orders_lot"))

    op.drop_table("work_orders")
    op.drop_table("order_lines")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    with op.batch_alter_table("serial_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_serial_numbers_work_order"))
        batch_op.drop_index(batch_op.f("ix_serial_numbers_lot"))

    op.drop_table("serial_numbers")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_customer"))
        batch_op.drop_index(batch_op.f("ix_orders_created"))

    op.drop_table("orders")
    with op.batch_alter_table("material_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_material_lots_material"))

    op.drop_table("material_lots")
    op.drop_table("machines")
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lot_consumption_work_order"))
        batch_op.drop_index(batch_op.f("ix_lot_consumption_material_lot"))

    op.drop_table("lot_consumption")
    op.drop_table("factories")
    op.drop_table("customers")
