"""planning: a planner's pins (operation -> machine and optional start) and the orders a
rush event marked rush

Revision ID: pins_plan_pins
Revises: 0016_planning_downtimes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "pins_plan_pins"
down_revision = "0016_planning_downtimes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_pins",
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("operation", name=op.f("pk_planning_pins")),
    )
    op.create_table(
        "planning_rush_orders",
        sa.Column("order", sa.String(length=64), nullable=False),
        sa.Column("at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order", name=op.f("pk_planning_rush_orders")),
    )


def downgrade() -> None:
    op.drop_table("planning_rush_orders")
    op.drop_table("planning_pins")
