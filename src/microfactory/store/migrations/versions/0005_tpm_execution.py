"""execution and TPM: operation plans, planning runs, maintenance work orders, twin runs

Revision ID: 0005_tpm_execution
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import microfactory.store.base

revision = "0005_tpm_execution"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "exec_op_plans",
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("plan_no", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("end", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("first_end", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("operation", name=op.f("pk_exec_op_plans")),
    )
    op.create_index(op.f("ix_exec_op_plans_work_order"), "exec_op_plans", ["work_order"])
    op.create_index(op.f("ix_exec_op_plans_machine"), "exec_op_plans", ["machine"])
    op.create_table(
        "exec_plan_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("operations", sa.Integer(), nullable=False),
        sa.Column("solver", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("weighted_tardiness", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exec_plan_runs")),
    )
    op.create_index(op.f("ix_exec_plan_runs_at"), "exec_plan_runs", ["at"])
    op.create_table(
        "tpm_work_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("plan", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("window_start", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("window_end", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("started", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("done", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("parts", JSON, nullable=False),
        sa.Column("labour_hours", sa.Float(), nullable=False),
        sa.Column("checklist", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tpm_work_orders")),
    )
    op.create_index(op.f("ix_tpm_work_orders_machine"), "tpm_work_orders", ["machine"])
    op.create_index(op.f("ix_tpm_work_orders_status"), "tpm_work_orders", ["status"])
    op.create_table(
        "twin_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("bus", sa.String(length=16), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_runs")),
    )


def downgrade() -> None:
    op.drop_table("twin_runs")
    op.drop_table("tpm_work_orders")
    op.drop_table("exec_plan_runs")
    op.drop_table("exec_op_plans")
