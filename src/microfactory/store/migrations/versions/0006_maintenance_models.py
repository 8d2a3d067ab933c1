"""maintenance: registry of trained predictive-maintenance models

Revision ID: 0006_maintenance_models
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import microfactory.store.base

revision = "0006_maintenance_models"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pdm_models",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trained_on", sa.Text(), nullable=False),
        sa.Column("data_digest", sa.String(length=64), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("created_at", microfactory.store.base.UTCDateTime(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdm_models")),
        sa.UniqueConstraint("name", "version", name="uq_pdm_models_name_version"),
    )
    op.create_index(op.f("ix_pdm_models_name"), "pdm_models", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pdm_models_name"), table_name="pdm_models")
    op.drop_table("pdm_models")
