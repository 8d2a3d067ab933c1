"""planning: the operator who attends each planned operation

Revision ID: 0019o_plan_operator
Revises: 0003_planning (the table it changes; a head of its own)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019o_plan_operator"
down_revision = "0003_planning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("planning_operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planning_operations", schema=None) as batch_op:
        batch_op.drop_column("operator")
