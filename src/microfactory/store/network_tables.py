"""The hub's store of a network of sites (PostgreSQL in production; SQLite works too).

`net_hub_records` keeps every replicated record once: unique by (site, epoch, seq) — the
site's gapless outbox sequence — and by (site, kind, key), the record's own key (an event id
for shop-floor events). `net_hub_sites` holds each site's watermark (the last seq applied),
so a replay or a redelivery is recognised before it touches anything. The fleet view —
orders, plans, machine states, OEE inputs per machine and day, quality alerts and NCRs,
quotes and routed orders — is updated in the same transaction as the records, so the view
and the watermark never disagree.

OEE inputs: the time a machine spent in each OPC 40001-1 state is booked, when the next state
event arrives, to the UTC day on which that state began (an interval is not split at
midnight); good and reject counts come from counter events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    BigInteger,
    Date,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.core.errors import ValidationError
from microfactory.store.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class HubSiteRow(Base):
    __tablename__ = "net_hub_sites"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(40))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger)
    duplicates: Mapped[int] = mapped_column(BigInteger)
    gaps: Mapped[int] = mapped_column(BigInteger)
    backlog: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubRecordRow(Base):
    __tablename__ = "net_hub_records"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    machine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("site", "epoch", "seq", name="uq_net_hub_records_site_seq"),
        UniqueConstraint("site", "kind", "key", name="uq_net_hub_records_site_key"),
        Index("ix_net_hub_records_site_kind_machine_ts", "site", "kind", "machine", "ts"),
    )


class HubGapRow(Base):
    __tablename__ = "net_hub_gaps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    epoch: Mapped[str] = mapped_column(String(40))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubOrderRow(Base):
    __tablename__ = "net_hub_orders"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lines: Mapped[str] = mapped_column(Text, default="[]")


class HubPlanRow(Base):
    __tablename__ = "net_hub_plans"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text)


class HubMachineRow(Base):
    __tablename__ = "net_hub_machines"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    good: Mapped[int] = mapped_column(BigInteger, default=0)
    reject: Mapped[int] = mapped_column(BigInteger, default=0)
    jobs_finished: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubOeeRow(Base):
    """OEE inputs of one machine on one UTC day: seconds per state, good and reject parts."""

    __tablename__ = "net_hub_oee"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    executing_s: Mapped[float] = mapped_column(Float, default=0.0)
    not_executing_s: Mapped[float] = mapped_column(Float, default=0.0)
    out_of_service_s: Mapped[float] = mapped_column(Float, default=0.0)
    not_available_s: Mapped[float] = mapped_column(Float, default=0.0)
    good: Mapped[int] = mapped_column(BigInteger, default=0)
    reject: Mapped[int] = mapped_column(BigInteger, default=0)


class HubAlertRow(Base):
    """A quality alert or a nonconformance (NCR) of a site, in its latest version."""

    __tablename__ = "net_hub_alerts"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ident: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    body: Mapped[str] = mapped_column(Text)


class HubQuoteRow(Base):
    __tablename__ = "net_hub_quotes"
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    quote_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    promised_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HubRouteRow(Base):
    """An order routed by the hub to a site, and what the site made of it."""

    __tablename__ = "net_hub_routes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    quote_id: Mapped[str] = mapped_column(String(64))
    customer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _t(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


def parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class HubRecord(Protocol):
    """One replicated record as the hub applies it (the site's outbox envelope)."""

    @property
    def site(self) -> str: ...
    @property
    def epoch(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def payload(self) -> str: ...


def _machine(r: HubRecord) -> str | None:
    m = r.body.get("machine")
    return str(m)[:64] if m else None


@dataclass
class Watermark:
    epoch: str
    last_seq: int


@dataclass
class _Views:
    """Fleet-view changes of one batch, gathered before they are written."""

    machines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    oee: dict[tuple[str, str, date], dict[str, float]] = field(default_factory=dict)


STATE_COLUMNS = {
    "Executing": "executing_s",
    "NotExecuting": "not_executing_s",
    "OutOfService": "out_of_service_s",
    "NotAvailable": "not_available_s",
}


class SqlHubStore:
    """The hub's records, watermarks and fleet view on an SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing -------------------------------------------------------------------------

    def watermarks(self) -> dict[str, Watermark]:
        t = _t(HubSiteRow)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.site, t.c.epoch, t.c.last_seq)).all()
        return {r.site: Watermark(r.epoch, int(r.last_seq)) for r in rows}

    def apply(
        self,
        records: Sequence[HubRecord],
        heartbeats: Sequence[dict[str, Any]] = (),
        *,
        now: datetime | None = None,
    ) -> int:
        """Store records (already in per-site seq order, each the next of its site, as the
        consumer ensures) and the fleet-view changes, move the watermarks, note heartbeats;
        one transaction. Returns the records stored (a record whose key is already stored is
        counted as a duplicate and changes nothing)."""
        now = now or datetime.now(UTC)
        stored = 0
        with self.engine.begin() as conn:
            sites = self._sites(conn, {r.site for r in records} | {h["site"] for h in heartbeats})
            new: list[HubRecord] = []
            if records:
                inserted = self._insert_records(conn, records, now)
                new = [r for r in records if (r.site, r.seq) in inserted]
                stored = len(new)
            views = _Views()
            machines = self._machine_rows(conn, new)
            for r in new:
                self._view(conn, r, machines, views, now)
            self._write_views(conn, machines, views)
            for site, (events, head) in sites.items():
                mine = [r for r in records if r.site == site]
                values: dict[str, Any] = {}
                if mine:
                    got = [r for r in new if r.site == site]
                    head = max(head, mine[-1].seq)
                    values.update(
                        epoch=mine[-1].epoch,
                        last_seq=mine[-1].seq,
                        events=events + len(got),
                        duplicates=HubSiteRow.duplicates + (len(mine) - len(got)),
                        last_received_at=now,
                    )
                    if got:
                        values["last_event_at"] = max(r.ts for r in got)
                for h in heartbeats:
                    if h["site"] == site:
                        values.update(backlog=int(h.get("backlog", 0)), last_heartbeat_at=now)
                        head = max(head, int(h.get("head_seq", 0)))
                values["head_seq"] = head
                conn.execute(update(HubSiteRow).where(HubSiteRow.site == site).values(**values))
        return stored

    def _sites(self, conn: Connection, names: set[str]) -> dict[str, tuple[int, int]]:
        """(events, head_seq) of the sites named, registering new ones."""
        t = _t(HubSiteRow)
        query = select(t.c.site, t.c.events, t.c.head_seq).where(t.c.site.in_(names))
        rows = {s: (int(e), int(h)) for s, e, h in conn.execute(query).all()}
        for site in sorted(names - set(rows)):
            conn.execute(
                insert(t).values(
                    site=site,
                    epoch="",
                    last_seq=0,
                    head_seq=0,
                    events=0,
                    duplicates=0,
                    gaps=0,
                    backlog=0,
                    first_seen=datetime.now(UTC),
                )
            )
            rows[site] = (0, 0)
        return rows

    def _insert_records(
        self, conn: Connection, records: Sequence[HubRecord], now: datetime
    ) -> set[tuple[str, int]]:
        t = _t(HubRecordRow)
        rows = [
            {
                "site": r.site,
                "epoch": r.epoch,
                "seq": r.seq,
                "kind": r.kind,
                "key": r.key[:128],
                "machine": _machine(r),
                "ts": r.ts,
                "received_at": now,
                "payload": r.payload,
            }
            for r in records
        ]
        if conn.dialect.name == "postgresql":
            return _insert_records_pg(conn, rows)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        # one cached statement, executemany: SQLAlchemy batches it into multi-row INSERTs
        # ("insertmanyvalues") without compiling a statement per batch
        stmt = dialect.insert(t).on_conflict_do_nothing().returning(t.c.site, t.c.seq)
        return {(s, int(q)) for s, q in conn.execute(stmt, rows).all()}

    def record_gap(self, site: str, epoch: str, first: int, last: int) -> None:
        """Records first..last of a site will never come (the stream dropped them): note
        the gap and move the watermark past it."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(_t(HubGapRow)).values(
                    site=site,
                    epoch=epoch,
                    first_seq=first,
                    last_seq=last,
                    detected_at=datetime.now(UTC),
                )
            )
            conn.execute(
                update(HubSiteRow)
                .where(HubSiteRow.site == site)
                .values(epoch=epoch, last_seq=last, gaps=HubSiteRow.gaps + 1)
            )

    def start_epoch(self, site: str, epoch: str) -> None:
        """The site's database was re-created: its sequence starts again at 1."""
        with self.engine.begin() as conn:
            self._sites(conn, {site})
            conn.execute(
                update(HubSiteRow)
                .where(HubSiteRow.site == site)
                .values(epoch=epoch, last_seq=0, head_seq=0)
            )

    # -- fleet view ----------------------------------------------------------------------

    def _machine_rows(
        self, conn: Connection, records: Sequence[HubRecord]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        keys = {
            (r.site, m)
            for r in records
            if (m := _machine(r)) and r.kind in ("state", "counter", "job", "sample", "measurement")
        }
        if not keys:
            return {}
        t = _t(HubMachineRow)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for site in {s for s, _ in keys}:
            names = [m for s, m in keys if s == site]
            for row in conn.execute(select(t).where(t.c.site == site, t.c.machine.in_(names))):
                out[(row.site, row.machine)] = dict(row._mapping)
        for site, machine in keys:
            out.setdefault(
                (site, machine),
                {
                    "site": site,
                    "machine": machine,
                    "state": None,
                    "mode": None,
                    "reason": None,
                    "since": None,
                    "good": 0,
                    "reject": 0,
                    "jobs_finished": 0,
                    "last_event_at": None,
                    "_new": True,
                },
            )
        return out

    def _view(
        self,
        conn: Connection,
        r: HubRecord,
        machines: dict[tuple[str, str], dict[str, Any]],
        views: _Views,
        now: datetime,
    ) -> None:
        b = r.body
        machine = _machine(r)
        if machine and (r.site, machine) in machines:
            m = machines[(r.site, machine)]
            m["_dirty"] = True
            last = m["last_event_at"]
            m["last_event_at"] = r.ts if last is None or r.ts > last else last
            if r.kind == "state":
                since = m["since"]
                if since is not None and m["state"] in STATE_COLUMNS and r.ts > since:
                    bucket = self._oee(views, r.site, machine, since.date())
                    col = STATE_COLUMNS[m["state"]]
                    bucket[col] = bucket.get(col, 0.0) + (r.ts - since).total_seconds()
                m.update(state=b.get("state"), mode=b.get("mode"), reason=b.get("reason"))
                m["since"] = r.ts
            elif r.kind == "counter":
                good, reject = int(b.get("good", 0)), int(b.get("reject", 0))
                m["good"] += good
                m["reject"] += reject
                bucket = self._oee(views, r.site, machine, r.ts.date())
                bucket["good"] = bucket.get("good", 0) + good
                bucket["reject"] = bucket.get("reject", 0) + reject
            elif r.kind == "job" and b.get("action") == "finished":
                m["jobs_finished"] += 1
            return
        if r.kind == "order":
            self._order(conn, r, now)
        elif r.kind == "plan":
            values = {"created_at": r.ts, "summary": json.dumps(b, default=str)}
            self._upsert(conn, HubPlanRow, {"site": r.site, "version": int(b["version"])}, values)
        elif r.kind == "quote":
            self._quote(conn, r, now)
        elif r.kind in ("alert", "ncr"):
            ident = str(b.get("id", r.key))[:64]
            values = {
                "at": parse_ts(b.get("at") or b.get("opened")) or r.ts,
                "status": b.get("status") or ("held" if b.get("lot_held") else None),
                "body": json.dumps(b, default=str),
            }
            self._upsert(
                conn, HubAlertRow, {"site": r.site, "kind": r.kind, "ident": ident}, values
            )
        elif r.kind == "route":
            conn.execute(
                update(HubRouteRow)
                .where(HubRouteRow.id == str(b.get("route_id")))
                .values(
                    status=str(b.get("status")),
                    order_id=b.get("order_id"),
                    detail=str(b.get("detail", ""))[:2000],
                    updated_at=now,
                )
            )

    @staticmethod
    def _oee(views: _Views, site: str, machine: str, day: date) -> dict[str, float]:
        return views.oee.setdefault((site, machine, day), {})

    def _order(self, conn: Connection, r: HubRecord, now: datetime) -> None:
        b = r.body
        key = {"site": r.site, "order_id": str(b["order_id"])}
        values: dict[str, Any] = {"status": str(b["status"]), "updated_at": now}
        if "lines" in b:
            values.update(
                customer=b.get("customer"),
                due=parse_ts(b.get("due")),
                created=parse_ts(b.get("created")),
                lines=json.dumps(b["lines"]),
            )
        self._upsert(conn, HubOrderRow, key, values)

    def _quote(self, conn: Connection, r: HubRecord, now: datetime) -> None:
        b = r.body
        key = {"site": r.site, "quote_id": str(b["id"])}
        values: dict[str, Any] = {"status": str(b["status"]), "updated_at": now}
        if b.get("order_id"):
            values["order_id"] = b["order_id"]
        if "price" in b:
            values.update(
                price=b.get("price"),
                currency=b.get("currency"),
                promised_date=parse_ts(b.get("promised_date")),
            )
        self._upsert(conn, HubQuoteRow, key, values)

    @staticmethod
    def _upsert(
        conn: Connection, row: type[Base], key: dict[str, Any], values: dict[str, Any]
    ) -> None:
        t = _t(row)
        where = [t.c[k] == v for k, v in key.items()]
        if conn.execute(update(t).where(*where).values(**values)).rowcount == 0:
            conn.execute(insert(t).values(**key, **values))

    def _write_views(
        self, conn: Connection, machines: dict[tuple[str, str], dict[str, Any]], views: _Views
    ) -> None:
        t = _t(HubMachineRow)
        for m in machines.values():
            if not m.pop("_dirty", False):
                continue
            is_new = m.pop("_new", False)
            values = {k: v for k, v in m.items() if k not in ("site", "machine")}
            if is_new:
                conn.execute(insert(t).values(site=m["site"], machine=m["machine"], **values))
            else:
                conn.execute(
                    update(t)
                    .where(t.c.site == m["site"], t.c.machine == m["machine"])
                    .values(**values)
                )
        o = _t(HubOeeRow)
        for (site, machine, day), add in views.oee.items():
            where = (o.c.site == site, o.c.machine == machine, o.c.day == day)
            found = conn.execute(select(o).where(*where)).first()
            if found is None:
                conn.execute(insert(o).values(site=site, machine=machine, day=day, **_oee0(add)))
            else:
                conn.execute(
                    update(o).where(*where).values(**{k: o.c[k] + v for k, v in add.items()})
                )

    # -- routes ----------------------------------------------------------------------------

    def add_route(
        self, route_id: str, site: str, quote_id: str, customer: str | None, at: datetime
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(_t(HubRouteRow)).values(
                    id=route_id,
                    site=site,
                    quote_id=quote_id,
                    customer=customer,
                    status="routed",
                    order_id=None,
                    detail="",
                    routed_at=at,
                    updated_at=at,
                )
            )

    # -- reading ---------------------------------------------------------------------------

    def sites(self) -> list[dict[str, Any]]:
        t = _t(HubSiteRow)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.site)).mappings().all()
        return [dict(r) for r in rows]

    def records(
        self,
        *,
        site: str | None = None,
        kind: str | None = None,
        machine: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
        order_by_seq: bool = False,
    ) -> list[dict[str, Any]]:
        """Stored records with their parsed envelope under 'record': by (ts, seq), or in
        the order the hub stored them with `order_by_seq`."""
        t = _t(HubRecordRow)
        query = select(t.c.id, t.c.site, t.c.seq, t.c.kind, t.c.key, t.c.ts, t.c.payload)
        if site is not None:
            query = query.where(t.c.site == site)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if machine is not None:
            query = query.where(t.c.machine == machine)
        if start is not None:
            query = query.where(t.c.ts >= start)
        if end is not None:
            query = query.where(t.c.ts < end)
        query = query.order_by(t.c.id) if order_by_seq else query.order_by(t.c.ts, t.c.seq)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [
            {"id": r.id, "site": r.site, "seq": r.seq, "kind": r.kind, "key": r.key, "ts": r.ts}
            | {"record": json.loads(r.payload)}
            for r in rows
        ]

    def site_keys(self, site: str) -> list[tuple[int, str, str]]:
        """(seq, kind, key) of a site's records in the order the hub stored them."""
        t = _t(HubRecordRow)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.seq, t.c.kind, t.c.key).where(t.c.site == site).order_by(t.c.id)
            ).all()
        return [(int(s), k, key) for s, k, key in rows]

    def counts_by_kind(self, site: str | None = None) -> dict[str, dict[str, int]]:
        t = _t(HubRecordRow)
        query = select(t.c.site, t.c.kind, func.count()).group_by(t.c.site, t.c.kind)
        if site is not None:
            query = query.where(t.c.site == site)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for s, k, n in conn.execute(query):
                out.setdefault(s, {})[k] = int(n)
        return out

    def table(self, name: str, site: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Rows of one fleet-view table ('orders', 'plans', 'machines', 'oee', 'alerts',
        'quotes', 'routes'), optionally of one site."""
        rows_of: dict[str, type[Base]] = {
            "orders": HubOrderRow,
            "plans": HubPlanRow,
            "machines": HubMachineRow,
            "oee": HubOeeRow,
            "alerts": HubAlertRow,
            "quotes": HubQuoteRow,
            "routes": HubRouteRow,
            "gaps": HubGapRow,
        }
        if name not in rows_of:
            raise ValidationError(f"unknown fleet view {name!r}", where="view")
        t = _t(rows_of[name])
        query = select(t)
        if site is not None:
            query = query.where(t.c.site == site)
        query = query.order_by(*t.primary_key.columns).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        out = []
        for r in rows:
            row = dict(r)
            for col in ("summary", "body", "lines"):
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
            out.append(row)
        return out


_RECORD_COLUMNS = "site, epoch, seq, kind, key, machine, ts, received_at, payload"


def _insert_records_pg(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """PostgreSQL: COPY into a per-session staging table, then one INSERT ... SELECT in the
    given order (ids follow it) that skips rows already stored and returns the new ones. A
    fraction of the client CPU of any multi-row INSERT."""
    cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS net_hub_stage (ord integer, site varchar(32), "
        "epoch varchar(40), seq bigint, kind varchar(16), key varchar(128), "
        "machine varchar(64), ts timestamptz, received_at timestamptz, payload text) "
        "ON COMMIT DELETE ROWS"
    )
    cols = _RECORD_COLUMNS.split(", ")
    with cur.copy(f"COPY net_hub_stage (ord, {_RECORD_COLUMNS}) FROM STDIN") as copy:
        for i, row in enumerate(rows):
            copy.write_row((i, *(row[c] for c in cols)))
    cur.execute(
        f"INSERT INTO net_hub_records ({_RECORD_COLUMNS}) SELECT {_RECORD_COLUMNS} "
        "FROM net_hub_stage ORDER BY ord ON CONFLICT DO NOTHING RETURNING site, seq"
    )
    got = {(s, int(q)) for s, q in cur.fetchall()}
    cur.execute("DELETE FROM net_hub_stage")
    cur.close()
    return got


def _oee0(add: dict[str, float]) -> dict[str, Any]:
    base: dict[str, Any] = {c: 0.0 for c in STATE_COLUMNS.values()}
    base.update(good=0, reject=0)
    base.update(add)
    return base


def lag_events(sites: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Records a site has committed that the hub has not applied yet (from the site's last
    heartbeat; 0 when the hub is ahead of what it heard)."""
    return {s["site"]: max(0, int(s["head_seq"]) - int(s["last_seq"])) for s in sites}
