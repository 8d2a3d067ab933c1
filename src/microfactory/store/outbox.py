"""The transactional outbox of a site that replicates to a network hub.

A change the hub needs (a new shop-floor event, an order status, a plan, a quote, a quality
alert) is written into `net_outbox` by `enqueue`, on the caller's open connection or session,
so it commits or rolls back with the change itself. The replication process (`network site`)
reads the outbox in sequence order, publishes each row to JetStream and deletes rows only once
the stream has acknowledged them.

Replication is a setting of the site's database (`net_site`, one row, written by
`enable`): a single-site install has no such row and `enqueue` writes nothing. Every row gets
the next number of one gapless per-site sequence (`next_seq`, reserved by an UPDATE of the
`net_site` row, which also orders concurrent writers by commit), so the hub can apply a site's
records in the order the site committed them and recognise a replay by (site, seq). `epoch`
changes when replication is enabled on a fresh database, so a hub can tell a re-created site
from a replay.

`sample_interval_s` thins sensor samples before they enter the outbox: 0 keeps every sample
batch, a negative value keeps none, N keeps at most one batch per machine per N seconds of
event time (enough for fleet learning; the site keeps every sample itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Engine, Float, Integer, LargeBinary, String, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from microfactory.core.errors import Conflict, ValidationError
from microfactory.core.ids import new_id
from microfactory.store.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")
SITE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_-]")
SUBJECT_ROOT = "mf"


class OutboxRow(Base):
    __tablename__ = "net_outbox"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject: Mapped[str] = mapped_column(String(255))
    msg_id: Mapped[str] = mapped_column(String(160))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SiteReplicationRow(Base):
    __tablename__ = "net_site"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    site: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[str] = mapped_column(String(40))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_seq: Mapped[int] = mapped_column(BigId)
    sample_interval_s: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class SiteReplication:
    """The replication setting of a site database."""

    site: str
    epoch: str
    enabled_at: datetime
    next_seq: int
    sample_interval_s: float


@dataclass(frozen=True)
class OutboxMessage:
    """One committed outbox row, ready to publish."""

    seq: int
    subject: str
    msg_id: str
    payload: bytes


def check_site_id(site: str) -> str:
    if not SITE_PATTERN.match(site):
        raise ValidationError(
            f"site id {site!r} must be 1 to 32 letters, digits, '-' or '_'", where="--site"
        )
    return site


def subject_token(value: str) -> str:
    """A NATS subject token from a name: characters NATS reserves ('.', '*', '>', blanks)
    become '_' (the payload keeps the real name)."""
    return _TOKEN_BAD.sub("_", value)[:64] or "_"


def _conn(bind: Connection | Session) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


# -- the setting ---------------------------------------------------------------------------


def enable(
    engine: Engine, site: str, *, sample_interval_s: float = 0.0, now: datetime | None = None
) -> SiteReplication:
    """Turn replication on for this database as `site` (idempotent). Conflict when the
    database already replicates as another site: one database is one site."""
    check_site_id(site)
    with engine.begin() as conn:
        row = conn.execute(select(SiteReplicationRow).where(SiteReplicationRow.id == 1)).first()
        if row is not None:
            if row.site != site:
                raise Conflict(
                    f"this database replicates as site {row.site!r}, not {site!r} "
                    "(one database is one site; disable replication first to rename it)"
                )
            if row.sample_interval_s != sample_interval_s:
                conn.execute(
                    SiteReplicationRow.__table__.update()  # type: ignore[attr-defined]
                    .where(SiteReplicationRow.id == 1)
                    .values(sample_interval_s=sample_interval_s)
                )
        else:
            conn.execute(
                SiteReplicationRow.__table__.insert(),  # type: ignore[attr-defined]
                {
                    "id": 1,
                    "site": site,
                    "epoch": new_id(),
                    "enabled_at": now or datetime.now(UTC),
                    "next_seq": 1,
                    "sample_interval_s": sample_interval_s,
                },
            )
    found = replication(engine)
    assert found is not None
    return found


def disable(engine: Engine) -> int:
    """Turn replication off; returns the rows still in the outbox, which are dropped (they
    would never be published)."""
    with engine.begin() as conn:
        pending = int(conn.execute(text("SELECT count(*) FROM net_outbox")).scalar_one())
        conn.execute(text("DELETE FROM net_outbox"))
        conn.execute(text("DELETE FROM net_site"))
    return pending


def _setting(conn: Connection) -> Any:
    return conn.execute(
        text("SELECT site, epoch, enabled_at, next_seq, sample_interval_s FROM net_site")
    ).first()


def replication(engine: Engine) -> SiteReplication | None:
    """The setting, or None when this database does not replicate."""
    with engine.connect() as conn:
        row = conn.execute(select(SiteReplicationRow).where(SiteReplicationRow.id == 1)).first()
    if row is None:
        return None
    return SiteReplication(row.site, row.epoch, row.enabled_at, row.next_seq, row.sample_interval_s)


# -- writing (inside the caller's transaction) ---------------------------------------------


@dataclass(frozen=True)
class Record:
    """What a store hands to `enqueue`: `kind` (a subject token: 'order', 'state', ...),
    `key` (unique for this kind at this site: an event id, or a record id with a version),
    `ts` (when it happened) and a JSON-able `body`. `tail` adds subject tokens after the
    kind (e.g. the machine)."""

    kind: str
    key: str
    ts: datetime
    body: Mapping[str, Any]
    tail: str = ""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "value"):
        return value.value
    return str(value)


def enqueue(bind: Connection | Session, records: Iterable[Record]) -> int:
    """Write `records` into the outbox in the caller's transaction; return how many (0 when
    this database does not replicate)."""
    items = list(records)
    if not items:
        return 0
    conn = _conn(bind)
    setting = _setting(conn)
    if setting is None:
        return 0
    site, epoch = setting.site, setting.epoch
    n = len(items)
    conn.execute(text("UPDATE net_site SET next_seq = next_seq + :n"), {"n": n})
    first = int(conn.execute(text("SELECT next_seq FROM net_site")).scalar_one()) - n
    now = datetime.now(UTC)
    rows = []
    for i, r in enumerate(items):
        seq = first + i
        subject = f"{SUBJECT_ROOT}.{site}.{subject_token(r.kind)}"
        if r.tail:
            subject += "." + subject_token(r.tail)
        envelope = {
            "site": site,
            "epoch": epoch,
            "seq": seq,
            "kind": r.kind,
            "key": r.key,
            "ts": _json_default(r.ts),
            "body": r.body,
        }
        rows.append(
            {
                "seq": seq,
                "subject": subject,
                "msg_id": f"{site}:{r.kind}:{r.key}"[:160],
                "payload": json.dumps(
                    envelope, default=_json_default, separators=(",", ":")
                ).encode(),
                "created_at": now,
            }
        )
    conn.execute(OutboxRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    return n


def sample_interval(bind: Connection | Session) -> float | None:
    """The sample thinning of this database, None when it does not replicate."""
    setting = _setting(_conn(bind))
    return None if setting is None else float(setting.sample_interval_s)


# -- reading and acknowledging (the replication process) -----------------------------------


def pending(engine: Engine, limit: int = 1000, after: int = 0) -> list[OutboxMessage]:
    """Committed rows after seq `after`, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxRow.seq, OutboxRow.subject, OutboxRow.msg_id, OutboxRow.payload)
            .where(OutboxRow.seq > after)
            .order_by(OutboxRow.seq)
            .limit(limit)
        ).all()
    return [OutboxMessage(int(s), subj, mid, bytes(p)) for s, subj, mid, p in rows]


def acknowledge(engine: Engine, upto: int) -> int:
    """The stream has every row up to seq `upto`: delete them."""
    with engine.begin() as conn:
        result = conn.execute(text("DELETE FROM net_outbox WHERE seq <= :upto"), {"upto": upto})
    return int(result.rowcount)


def backlog(engine: Engine) -> tuple[int, int]:
    """(rows waiting, the last seq given out) of this site's outbox."""
    with engine.connect() as conn:
        waiting = int(conn.execute(text("SELECT count(*) FROM net_outbox")).scalar_one())
        setting = _setting(conn)
    return waiting, 0 if setting is None else int(setting.next_seq) - 1


# -- what each store hands over ------------------------------------------------------------


def event_records(events: Sequence[Any], new_ids: set[str], interval: float) -> list[Record]:
    """Outbox records for the new shop-floor events of one ingester transaction: every job,
    state, counter and measurement event; sample batches thinned by `interval` (see the
    module docstring). Events are pydantic models or the ingester's `SampleRows`."""
    out: list[Record] = []
    last_kept: dict[str, datetime] = {}
    for e in events:
        if e.event_id not in new_ids:
            continue
        if e.kind == "sample":
            if interval < 0:
                continue
            if interval > 0:
                before = last_kept.get(e.machine)
                if before is not None and (e.ts - before).total_seconds() < interval:
                    continue
                last_kept[e.machine] = e.ts
            body = _sample_body(e)
        else:
            body = json.loads(e.model_dump_json(exclude_none=True))
        out.append(Record(e.kind, e.event_id, e.ts, body, e.machine))
    return out


def _sample_body(e: Any) -> dict[str, Any]:
    if hasattr(e, "model_dump_json"):
        return dict(json.loads(e.model_dump_json(exclude_none=True)))
    samples = [
        {"signal": sg, "value": v, "unit": u, **({} if st is None else {"ts": st})}
        for sg, v, u, st in e.samples
    ]
    return {
        "kind": "sample",
        "event_id": e.event_id,
        "machine": e.machine,
        "seq": e.seq,
        "ts": e.ts,
        "samples": samples,
    }


def enqueue_events(conn: Connection, events: Sequence[Any], new_ids: set[str]) -> int:
    """The telemetry store's hook: outbox records for the new events, when replicating."""
    if not new_ids:
        return 0
    interval = sample_interval(conn)
    if interval is None:
        return 0
    return enqueue(conn, event_records(events, new_ids, interval))


def _mutable_key(ident: str) -> str:
    """Key of a record that changes over time: its id plus a fresh unique suffix, so each
    change is a message of its own (de-duplication then works on the replay of a change)."""
    return f"{ident}#{new_id()}"


def order_added(order: Any, note: str = "") -> Record:
    """An order as placed (an `orders.Order`)."""
    body = {
        "order_id": order.id,
        "customer": order.customer,
        "status": str(order.status),
        "due": order.due,
        "created": order.created,
        "priority": order.priority,
        "rush": order.rush,
        "note": note,
        "lines": [
            {"product": ln.product, "quantity": ln.quantity, "unit_price": ln.unit_price}
            for ln in order.lines
        ],
    }
    return Record("order", _mutable_key(order.id), order.created, body)


def order_status(order_id: str, status: Any, at: datetime, note: str = "") -> Record:
    body = {"order_id": order_id, "status": str(status), "at": at, "note": note}
    return Record("order", _mutable_key(order_id), at, body)


def plan_saved(
    version: int, header: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]
) -> Record:
    """A summary of a saved plan version (the hub needs its figures, not every operation)."""
    starts = [op["start"] for op in operations]
    ends = [op["end"] for op in operations]
    late = [op for op in operations if op.get("due") is not None and op["end"] > op["due"]]
    body = {
        "version": version,
        **{k: header.get(k) for k in ("created_at", "origin", "status", "solver", "reason")},
        "objective": header.get("objective"),
        "objective_value": header.get("objective_value"),
        "weighted_tardiness": header.get("weighted_tardiness"),
        "moved": header.get("moved"),
        "operations": len(operations),
        "work_orders": len({op["work_order"] for op in operations}),
        "machines": len({op["machine"] for op in operations}),
        "start": min(starts) if starts else None,
        "end": max(ends) if ends else None,
        "late_operations": len(late),
    }
    return Record("plan", str(version), header["created_at"], body)


def machines(types: Mapping[str, str]) -> Record:
    """The site's machines and their types (fleet learning pools lives by type)."""
    at = datetime.now(UTC)
    return Record("machines", f"machines#{new_id()}", at, {"machines": dict(types)})


def quote_added(quote: Mapping[str, Any]) -> Record:
    keys = ("id", "created_at", "expires_at", "status", "customer", "model", "material")
    more = ("quantity", "process", "machine", "price", "currency", "promised_date")
    body = {k: quote.get(k) for k in (*keys, *more, "machine_hours", "order_id")}
    return Record("quote", _mutable_key(quote["id"]), quote["created_at"], body)


def quote_status(quote_id: str, status: str, order_id: str | None) -> Record:
    at = datetime.now(UTC)
    body = {"id": quote_id, "status": status, "order_id": order_id, "at": at}
    return Record("quote", _mutable_key(quote_id), at, body)


def quality_alert(row: Mapping[str, Any]) -> Record:
    return Record("alert", str(row["id"]), row["at"], dict(row))


def nonconformance(row: Mapping[str, Any]) -> Record:
    at = row.get("opened") or datetime.now(UTC)
    return Record("ncr", _mutable_key(str(row["id"])), at, dict(row))


class SqlOutbox:
    """The outbox of one replicating site database (the `SiteOutbox` port)."""

    def __init__(self, engine: Engine, setting: SiteReplication) -> None:
        self.engine = engine
        self.site = setting.site
        self.epoch = setting.epoch

    def pending(self, limit: int, after: int = 0) -> list[OutboxMessage]:
        return pending(self.engine, limit, after)

    def acknowledge(self, upto: int) -> int:
        return acknowledge(self.engine, upto)

    def backlog(self) -> tuple[int, int]:
        return backlog(self.engine)

    def record_route(self, route_id: str, outcome: dict[str, Any]) -> None:
        """What became of an order the hub routed here, for the hub (kind 'route')."""
        record = Record("route", f"{route_id}#{new_id()}", datetime.now(UTC), outcome)
        with self.engine.begin() as conn:
            enqueue(conn, [record])


def backfill(engine: Engine, *, chunk: int = 20_000) -> int:
    """Put the site's stored history into the outbox (a site joining the network with its
    past): every stored non-sample event and, as sample records, its sensor samples grouped
    by (machine, time) and thinned like live ones — merged in time order. Each chunk is its
    own transaction; returns the records enqueued (0 when the database does not
    replicate)."""
    setting = replication(engine)
    if setting is None:
        return 0
    interval = setting.sample_interval_s
    with engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT event_id, kind, ts_us, body FROM tm_events WHERE body IS NOT NULL "
                "ORDER BY ts_us, seq"
            )
        ).all()
        samples = (
            []
            if interval < 0
            else conn.execute(
                text(
                    "SELECT g.machine, s.ts_us, g.signal, g.unit, s.value FROM tm_samples s "
                    "JOIN tm_signals g ON g.id = s.signal_id ORDER BY s.ts_us, g.machine, s.id"
                )
            ).all()
        )
    items: list[tuple[int, Record]] = []
    for event_id, kind, ts_us, body in events:
        parsed = json.loads(body)
        ts = _from_us(ts_us)
        items.append((ts_us, Record(kind, event_id, ts, parsed, parsed.get("machine", ""))))
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for machine, ts_us, signal, unit, value in samples:
        groups.setdefault((machine, ts_us), []).append(
            {"signal": signal, "value": value, "unit": unit}
        )
    last_kept: dict[str, int] = {}
    for (machine, ts_us), values in groups.items():
        if interval > 0:
            before = last_kept.get(machine)
            if before is not None and (ts_us - before) < interval * 1e6:
                continue
            last_kept[machine] = ts_us
        ts = _from_us(ts_us)
        body = {"kind": "sample", "machine": machine, "ts": ts, "samples": values}
        items.append((ts_us, Record("sample", f"backfill-{machine}-{ts_us}", ts, body, machine)))
    items.sort(key=lambda item: item[0])
    for start in range(0, len(items), chunk):
        with engine.begin() as conn:
            enqueue(conn, [r for _, r in items[start : start + chunk]])
    return len(items)


def _from_us(us: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))
