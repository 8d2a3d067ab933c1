"""quality: measurements, frozen control limits, alerts, nonconformance reports, lot holds

Revision ID: 0007_quality
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0007_quality"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

UTC = microfactory.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "quality_measurements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=True),
        sa.Column("lot_id", sa.String(length=64), nullable=True),
        sa.Column("ts", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_measurements")),
        sa.UniqueConstraint("event_id", name=op.f("uq_quality_measurements_event_id")),
    )
    op.create_index(
        "ix_quality_measurements_product_characteristic",
        "quality_measurements",
        ["product", "characteristic", "id"],
    )
    op.create_index(op.f("ix_quality_measurements_part_id"), "quality_measurements", ["part_id"])
    op.create_index(op.f("ix_quality_measurements_lot_id"), "quality_measurements", ["lot_id"])
    op.create_table(
        "quality_limits",
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("chart", sa.String(length=16), nullable=False),
        sa.Column("center", sa.Float(), nullable=False),
        sa.Column("sigma", sa.Float(), nullable=True),
        sa.Column("subgroups_used", sa.Integer(), nullable=False),
        sa.Column("frozen_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("product", "characteristic", name=op.f("pk_quality_limits")),
    )
    op.create_table(
        "quality_alerts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=True),
        sa.Column("series", sa.String(length=16), nullable=True),
        sa.Column("point_index", sa.Integer(), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=True),
        sa.Column("lot_id", sa.String(length=64), nullable=True),
        sa.Column("lot_held", sa.Boolean(), nullable=False),
        sa.Column("ncr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_alerts")),
    )
    op.create_index(op.f("ix_quality_alerts_kind"), "quality_alerts", ["kind"])
    op.create_index(op.f("ix_quality_alerts_at"), "quality_alerts", ["at"])
    op.create_index(op.f("ix_quality_alerts_lot_id"), "quality_alerts", ["lot_id"])
    op.create_table(
        "quality_ncrs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("lsl", sa.Float(), nullable=True),
        sa.Column("usl", sa.Float(), nullable=True),
        sa.Column("opened", UTC(), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=True),
        sa.Column("lot_id", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("disposition_by", sa.String(length=100), nullable=False),
        sa.Column("disposition_at", UTC(), nullable=True),
        sa.Column("disposition_note", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("corrective_action", sa.Text(), nullable=False),
        sa.Column("preventive_action", sa.Text(), nullable=False),
        sa.Column("capa_owner", sa.String(length=100), nullable=False),
        sa.Column("capa_due", UTC(), nullable=True),
        sa.Column("closed", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_ncrs")),
    )
    op.create_index(op.f("ix_quality_ncrs_status"), "quality_ncrs", ["status"])
    op.create_index(op.f("ix_quality_ncrs_part_id"), "quality_ncrs", ["part_id"])
    op.create_index(op.f("ix_quality_ncrs_lot_id"), "quality_ncrs", ["lot_id"])
    op.create_table(
        "quality_lot_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_at", UTC(), nullable=False),
        sa.Column("ncr", sa.String(length=64), nullable=True),
        sa.Column("released_at", UTC(), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=False),
        sa.Column("release_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_lot_holds")),
    )
    op.create_index(op.f("ix_quality_lot_holds_lot"), "quality_lot_holds", ["lot"])


def downgrade() -> None:
    op.drop_table("quality_lot_holds")
    op.drop_table("quality_ncrs")
    op.drop_table("quality_alerts")
    op.drop_table("quality_limits")
    op.drop_table("quality_measurements")
