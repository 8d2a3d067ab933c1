"""print farm: printers, print jobs, slices, event outbox; quote model files; plan exclusions

Revision ID: 0017c_printfarm
Revises: 0016_planning_downtimes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0017c_printfarm"
down_revision = "0016_planning_downtimes"
branch_labels = None
depends_on = None

UTC = microfactory.store.base.UTCDateTime
JSON = microfactory.store.base.JSONType


def upgrade() -> None:
    op.create_table(
        "printfarm_printers",
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("remaining_g", sa.Float(), nullable=True),
        sa.Column("nozzle_mm", sa.Float(), nullable=True),
        sa.Column("build_volume", JSON, nullable=True),
        sa.Column("plate_clear", sa.Boolean(), nullable=False),
        sa.Column("plate_clearing", sa.String(length=16), nullable=False),
        sa.Column("retry_limit", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", UTC(), nullable=True),
        sa.Column("status", JSON, nullable=False),
        sa.Column("status_at", UTC(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("published_state", sa.String(length=160), nullable=False),
        sa.Column("replan_wanted", sa.Boolean(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("machine", name=op.f("pk_printfarm_printers")),
    )
    op.create_table(
        "printfarm_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("work_order", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("slice_key", sa.String(length=160), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("filament_g", sa.Float(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("started_at", UTC(), nullable=True),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printfarm_jobs")),
    )
    op.create_index(op.f("ix_printfarm_jobs_machine"), "printfarm_jobs", ["machine"])
    op.create_index(op.f("ix_printfarm_jobs_operation"), "printfarm_jobs", ["operation"])
    op.create_index(op.f("ix_printfarm_jobs_state"), "printfarm_jobs", ["state"])
    op.create_table(
        "printfarm_slices",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("model_sha", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=300), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("sliced_at", UTC(), nullable=False),
        sa.Column("print_time_s", sa.Float(), nullable=True),
        sa.Column("filament_g", sa.Float(), nullable=True),
        sa.Column("filament_mm", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=True),
        sa.Column("quote_time_s", sa.Float(), nullable=True),
        sa.Column("quote_filament_g", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_printfarm_slices")),
    )
    op.create_index(op.f("ix_printfarm_slices_model_sha"), "printfarm_slices", ["model_sha"])
    op.create_index(op.f("ix_printfarm_slices_quote_id"), "printfarm_slices", ["quote_id"])
    op.create_table(
        "printfarm_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("published_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printfarm_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_printfarm_outbox_event_id")),
    )
    op.create_index(op.f("ix_printfarm_outbox_published_at"), "printfarm_outbox", ["published_at"])
    op.create_table(
        "quoting_model_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_quoting_model_files")),
    )
    op.create_table(
        "quoting_quote_models",
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_quoting_quote_models")),
    )
    op.create_index(op.f("ix_quoting_quote_models_sha256"), "quoting_quote_models", ["sha256"])
    op.create_table(
        "planning_exclusions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_exclusions")),
        sa.UniqueConstraint("operation", "machine", name=op.f("uq_planning_exclusions_operation")),
    )
    op.create_index(op.f("ix_planning_exclusions_operation"), "planning_exclusions", ["operation"])
    op.create_index(op.f("ix_planning_exclusions_machine"), "planning_exclusions", ["machine"])


def downgrade() -> None:
    op.drop_table("planning_exclusions")
    op.drop_table("quoting_quote_models")
    op.drop_table("quoting_model_files")
    op.drop_table("printfarm_outbox")
    op.drop_table("printfarm_slices")
    op.drop_table("printfarm_jobs")
    op.drop_table("printfarm_printers")
