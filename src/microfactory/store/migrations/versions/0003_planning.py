"""planning: plan versions and their planned operations

Revision ID: 0003_planning
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0003_planning"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("created_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("origin", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("objective", sa.String(length=40), nullable=False),
        sa.Column("objective_value", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("solver", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("weighted_tardiness", sa.Integer(), nullable=True),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_plans")),
        sa.UniqueConstraint("version", name=op.f("uq_planning_plans_version")),
    )
    op.create_index(op.f("ix_planning_plans_current"), "planning_plans", ["current"])
    op.create_table(
        "planning_operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("end", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("due", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["planning_plans.id"],
            name=op.f("fk_planning_operations_plan_id_planning_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_operations")),
    )
    op.create_index(op.f("ix_planning_operations_plan_id"), "planning_operations", ["plan_id"])
    op.create_index(op.f("ix_planning_operations_operation"), "planning_operations", ["operation"])


def downgrade() -> None:
    op.drop_index(op.f("ix_planning_operations_operation"), table_name="planning_operations")
    op.drop_index(op.f("ix_planning_operations_plan_id"), table_name="planning_operations")
    op.drop_table("planning_operations")
    op.drop_index(op.f("ix_planning_plans_current"), table_name="planning_plans")
    op.drop_table("planning_plans")
