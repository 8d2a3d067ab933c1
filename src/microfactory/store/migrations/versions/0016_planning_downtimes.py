"""planning: machine downtimes and maintenance windows from re-planning events

Revision ID: 0016_planning_downtimes
Revises: 0003_planning
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0016_planning_downtimes"
down_revision = "0003_planning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_downtimes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("end", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_downtimes")),
    )
    op.create_index(op.f("ix_planning_downtimes_machine"), "planning_downtimes", ["machine"])


def downgrade() -> None:
    op.drop_index(op.f("ix_planning_downtimes_machine"), table_name="planning_downtimes")
    op.drop_table("planning_downtimes")
