"""auth: failed-login counters for the login backoff (per account, address and pair)

Revision ID: 0017b_login_failures
Revises: 0016_planning_downtimes
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0017b_login_failures"
down_revision = "0016_planning_downtimes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_login_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_login_failures")),
    )
    op.create_index(
        op.f("ix_auth_login_failures_last_at"), "auth_login_failures", ["last_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_login_failures_last_at"), table_name="auth_login_failures")
    op.drop_table("auth_login_failures")
