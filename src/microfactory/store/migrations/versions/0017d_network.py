"""network: the site's replication outbox and setting; the hub's records, watermarks and
fleet view

Revision ID: 0017d_network
Revises: 0016_planning_downtimes
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import microfactory.store.base

revision = "0017d_network"
down_revision = "0016_planning_downtimes"
branch_labels = None
depends_on = None

UTC = microfactory.store.base.UTCDateTime
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # site side
    op.create_table(
        "net_site",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("enabled_at", UTC(), nullable=False),
        sa.Column("next_seq", BigId, nullable=False),
        sa.Column("sample_interval_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_site")),
    )
    op.create_table(
        "net_outbox",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("msg_id", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_net_outbox")),
    )
    # hub side
    op.create_table(
        "net_hub_sites",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("gaps", sa.BigInteger(), nullable=False),
        sa.Column("backlog", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", UTC(), nullable=False),
        sa.Column("last_event_at", UTC(), nullable=True),
        sa.Column("last_received_at", UTC(), nullable=True),
        sa.Column("last_heartbeat_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_net_hub_sites")),
    )
    op.create_table(
        "net_hub_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("ts", UTC(), nullable=False),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_hub_records")),
        sa.UniqueConstraint("site", "epoch", "seq", name="uq_net_hub_records_site_seq"),
        sa.UniqueConstraint("site", "kind", "key", name="uq_net_hub_records_site_key"),
    )
    op.create_index(
        "ix_net_hub_records_site_kind_machine_ts",
        "net_hub_records",
        ["site", "kind", "machine", "ts"],
    )
    op.create_table(
        "net_hub_gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_hub_gaps")),
    )
    op.create_index(op.f("ix_net_hub_gaps_site"), "net_hub_gaps", ["site"])
    op.create_table(
        "net_hub_orders",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due", UTC(), nullable=True),
        sa.Column("created", UTC(), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site", "order_id", name=op.f("pk_net_hub_orders")),
    )
    op.create_table(
        "net_hub_plans",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site", "version", name=op.f("pk_net_hub_plans")),
    )
    op.create_table(
        "net_hub_machines",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("since", UTC(), nullable=True),
        sa.Column("good", sa.BigInteger(), nullable=False),
        sa.Column("reject", sa.BigInteger(), nullable=False),
        sa.Column("jobs_finished", sa.BigInteger(), nullable=False),
        sa.Column("last_event_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("site", "machine", name=op.f("pk_net_hub_machines")),
    )
    op.create_table(
        "net_hub_oee",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("executing_s", sa.Float(), nullable=False),
        sa.Column("not_executing_s", sa.Float(), nullable=False),
        sa.Column("out_of_service_s", sa.Float(), nullable=False),
        sa.Column("not_available_s", sa.Float(), nullable=False),
        sa.Column("good", sa.BigInteger(), nullable=False),
        sa.Column("reject", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site", "machine", "day", name=op.f("pk_net_hub_oee")),
    )
    op.create_table(
        "net_hub_alerts",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ident", sa.String(length=64), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("site", "kind", "ident", name=op.f("pk_net_hub_alerts")),
    )
    op.create_index(op.f("ix_net_hub_alerts_at"), "net_hub_alerts", ["at"])
    op.create_table(
        "net_hub_quotes",
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("promised_date", UTC(), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("site", "quote_id", name=op.f("pk_net_hub_quotes")),
    )
    op.create_table(
        "net_hub_routes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("routed_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_hub_routes")),
    )
    op.create_index(op.f("ix_net_hub_routes_site"), "net_hub_routes", ["site"])


def downgrade() -> None:
    for index, table in (
        ("ix_net_hub_routes_site", "net_hub_routes"),
        ("ix_net_hub_alerts_at", "net_hub_alerts"),
        ("ix_net_hub_gaps_site", "net_hub_gaps"),
        ("ix_net_hub_records_site_kind_machine_ts", "net_hub_records"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "net_hub_routes",
        "net_hub_quotes",
        "net_hub_alerts",
        "net_hub_oee",
        "net_hub_machines",
        "net_hub_plans",
        "net_hub_orders",
        "net_hub_gaps",
        "net_hub_records",
        "net_hub_sites",
        "net_outbox",
        "net_site",
    ):
        op.drop_table(table)
