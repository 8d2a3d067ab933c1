"""telemetry: dead letters stored once per message (key), events held for review (quarantine)

Revision ID: 0017a_ingest_hardening
Revises: 0016_planning_downtimes, 0004_telemetry
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0017a_ingest_hardening"
# after the newest revision (0016) and after the telemetry tables it changes (0004): a merge
# point, so that it never runs before 0004 and both stop being heads (is_up_to_date)
down_revision = ("0016_planning_downtimes", "0004_telemetry")
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(topic: str, payload: bytes) -> str:
    # the same as microfactory.shopfloor.events.dead_letter_key (a migration keeps its own copy)
    h = hashlib.blake2b(digest_size=16)
    h.update(topic.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(payload)
    return h.hexdigest()


def _backfill_keys() -> None:
    """Key every stored dead letter; of rows with the same key (one message stored again on
    redelivery, before this revision) keep the first."""
    conn = op.get_bind()
    letters = sa.table(
        "tm_dead_letters",
        sa.column("id", sa.BigInteger()),
        sa.column("topic", sa.String()),
        sa.column("payload", sa.LargeBinary()),
        sa.column("key", sa.String()),
    )
    seen: set[str] = set()
    last = -1
    while True:
        rows = conn.execute(
            sa.select(letters.c.id, letters.c.topic, letters.c.payload)
            .where(letters.c.id > last)
            .order_by(letters.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        updates, duplicates = [], []
        for row in rows:
            key = _key(row.topic, bytes(row.payload))
            if key in seen:
                duplicates.append(row.id)
            else:
                seen.add(key)
                updates.append({"row_id": row.id, "new_key": key})
        if updates:
            conn.execute(
                letters.update()
                .where(letters.c.id == sa.bindparam("row_id"))
                .values(key=sa.bindparam("new_key")),
                updates,
            )
        if duplicates:
            conn.execute(letters.delete().where(letters.c.id.in_(duplicates)))
        last = rows[-1].id


def upgrade() -> None:
    op.add_column("tm_dead_letters", sa.Column("key", sa.String(length=32), nullable=True))
    _backfill_keys()
    op.create_index("uq_tm_dead_letters_key", "tm_dead_letters", ["key"], unique=True)
    op.create_table(
        "tm_quarantine",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_quarantine")),
        sa.UniqueConstraint("event_id", name=op.f("uq_tm_quarantine_event_id")),
    )
    op.create_index(
        op.f("ix_tm_quarantine_received_us"), "tm_quarantine", ["received_us"], unique=False
    )
    op.create_index(
        "ix_tm_quarantine_machine_status", "tm_quarantine", ["machine", "status", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_tm_quarantine_machine_status", table_name="tm_quarantine")
    op.drop_index(op.f("ix_tm_quarantine_received_us"), table_name="tm_quarantine")
    op.drop_table("tm_quarantine")
    op.drop_index("uq_tm_dead_letters_key", table_name="tm_dead_letters")
    with op.batch_alter_table("tm_dead_letters") as batch:
        batch.drop_column("key")
