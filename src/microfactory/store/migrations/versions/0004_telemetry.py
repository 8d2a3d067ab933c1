"""telemetry: shop-floor events, samples, machine state, sequence gaps, dead letters

Revision ID: 0004_telemetry
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_telemetry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tm_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("batch", sa.String(length=24), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_tm_events_event_id")),
    )
    op.create_index("ix_tm_events_machine_ts", "tm_events", ["machine", "ts_us"])
    op.create_table(
        "tm_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_signals")),
        sa.UniqueConstraint("machine", "signal", "unit", name=op.f("uq_tm_signals_machine")),
    )
    op.create_table(
        "tm_samples",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_samples")),
    )
    op.create_index("ix_tm_samples_signal_ts", "tm_samples", ["signal_id", "ts_us"])
    op.create_table(
        "tm_machine_state",
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("since_us", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_event_us", sa.BigInteger(), nullable=True),
        sa.Column("good", sa.BigInteger(), nullable=False),
        sa.Column("reject", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("machine", name=op.f("pk_tm_machine_state")),
    )
    op.create_table(
        "tm_seq_gaps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_seq_gaps")),
    )
    op.create_index(op.f("ix_tm_seq_gaps_machine"), "tm_seq_gaps", ["machine"])
    op.create_table(
        "tm_dead_letters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=512), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_dead_letters")),
    )
    op.create_index(op.f("ix_tm_dead_letters_received_us"), "tm_dead_letters", ["received_us"])


def downgrade() -> None:
    op.drop_table("tm_dead_letters")
    op.drop_table("tm_seq_gaps")
    op.drop_table("tm_machine_state")
    op.drop_table("tm_samples")
    op.drop_table("tm_signals")
    op.drop_table("tm_events")
