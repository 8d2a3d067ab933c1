"""notifications: the e-mail outbox (unique key, retries), per-user notification settings,
marks (when notifications were switched on)

Revision ID: docs_0001_notifications
Revises: 0015_quoting
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "docs_0001_notifications"
down_revision = "0015_quoting"
branch_labels = None
depends_on = None

UTC = microfactory.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", UTC(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", UTC(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.UniqueConstraint("key", name="uq_notification_outbox_key"),
    )
    op.create_index("ix_notification_outbox_status", "notification_outbox", ["status"])
    op.create_index("ix_notification_outbox_next_attempt", "notification_outbox", ["next_attempt"])
    op.create_table(
        "notification_prefs",
        sa.Column("username", sa.String(length=100), primary_key=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("kinds", sa.String(length=200), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
    )
    op.create_table(
        "notification_marks",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("at", UTC(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_marks")
    op.drop_table("notification_prefs")
    op.drop_index("ix_notification_outbox_next_attempt", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_status", table_name="notification_outbox")
    op.drop_table("notification_outbox")
