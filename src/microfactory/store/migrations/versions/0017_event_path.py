"""event path: the reactor's cursor, rejected events, replan requests, durable TPM usage

Revision ID: 0017_event_path
Revises: 0005_tpm_execution
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0017_event_path"
down_revision = "0005_tpm_execution"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = microfactory.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "reactor_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("applied", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reactor_cursors")),
    )
    op.create_table(
        "reactor_rejections",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_row", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ts", When(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reactor_rejections")),
    )
    op.create_index(op.f("ix_reactor_rejections_event_row"), "reactor_rejections", ["event_row"])
    op.create_index(op.f("ix_reactor_rejections_machine"), "reactor_rejections", ["machine"])
    op.create_table(
        "replan_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("done", When(), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replan_requests")),
    )
    op.create_index(op.f("ix_replan_requests_done"), "replan_requests", ["done"])
    op.create_table(
        "tpm_usage",
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.String(length=64), nullable=False),
        sa.Column("run_hours", sa.Float(), nullable=False),
        sa.Column("cycles", sa.BigInteger(), nullable=False),
        sa.Column("since", When(), nullable=False),
        sa.PrimaryKeyConstraint("machine", "plan", name=op.f("pk_tpm_usage")),
    )
    op.create_table(
        "tpm_machines",
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("processing_since", When(), nullable=True),
        sa.PrimaryKeyConstraint("machine", name=op.f("pk_tpm_machines")),
    )


def downgrade() -> None:
    op.drop_table("tpm_machines")
    op.drop_table("tpm_usage")
    op.drop_index(op.f("ix_replan_requests_done"), table_name="replan_requests")
    op.drop_table("replan_requests")
    op.drop_index(op.f("ix_reactor_rejections_machine"), table_name="reactor_rejections")
    op.drop_index(op.f("ix_reactor_rejections_event_row"), table_name="reactor_rejections")
    op.drop_table("reactor_rejections")
    op.drop_table("reactor_cursors")
