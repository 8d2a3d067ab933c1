"""quoting: quotes and the capacity reservations they hold

Revision ID: 0015_quoting
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import microfactory.store.base

revision = "0015_quoting"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quoting_quotes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("promised_date", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("machine_hours", sa.Float(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quoting_quotes")),
    )
    op.create_index(op.f("ix_quoting_quotes_expires_at"), "quoting_quotes", ["expires_at"])
    op.create_index(op.f("ix_quoting_quotes_status"), "quoting_quotes", ["status"])
    op.create_table(
        "quoting_reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=80), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("start", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("end", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_id"],
            ["quoting_quotes.id"],
            name=op.f("fk_quoting_reservations_quote_id_quoting_quotes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quoting_reservations")),
    )
    op.create_index(op.f("ix_quoting_reservations_quote_id"), "quoting_reservations", ["quote_id"])
    op.create_index(op.f("ix_quoting_reservations_machine"), "quoting_reservations", ["machine"])


def downgrade() -> None:
    op.drop_index(op.f("ix_quoting_reservations_machine"), table_name="quoting_reservations")
    op.drop_index(op.f("ix_quoting_reservations_quote_id"), table_name="quoting_reservations")
    op.drop_table("quoting_reservations")
    op.drop_index(op.f("ix_quoting_quotes_status"), table_name="quoting_quotes")
    op.drop_index(op.f("ix_quoting_quotes_expires_at"), table_name="quoting_quotes")
    op.drop_table("quoting_quotes")
