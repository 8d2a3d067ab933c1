"""Telemetry tables and their SQL store: shop-floor events (unique `event_id`), sensor samples
indexed by (signal, ts) where a signal id stands for (machine, signal, unit), the current state
of each machine, sequence gaps and dead letters. Times are stored as integer microseconds since
the Unix epoch (`*_us`), which makes bucketed downsampling the same integer arithmetic on SQLite
and PostgreSQL.

The hot path (`SqlTelemetryTx.insert_events`) writes rows through the DBAPI cursor as multi-row
`INSERT ... VALUES (...), (...), ...` statements of up to `ROWS_PER_STATEMENT` rows (events with
`ON CONFLICT (event_id) DO NOTHING`), on both SQLite and PostgreSQL. One statement per few
hundred rows costs less than half of `executemany` per row, and the SQLite driver hands the GIL
to the validating thread once per statement instead of once per row. Which events were really
new is learned from the row count or, when some were duplicates, from a per-transaction batch
token written into each row.

Nothing a validated event holds can make an insert fail (see `microfactory.shopfloor.events`);
what the store itself composes is kept storable here: dead-letter topics and reasons (they quote
whatever arrived) lose NUL characters and lone surrogates and are cut to their column's size,
and running part totals saturate at 2^63 - 1 instead of overflowing. Dead letters are stored once
per `key` (a hash of topic and payload), so a redelivered bad message is not stored twice.
Events whose sequence number jumped implausibly far wait in `tm_quarantine` for a person.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.core.errors import ConnectorError
from microfactory.shopfloor.events import (
    MAX_SEQ,
    DeadLetter,
    Event,
    MachineStatus,
    Quarantined,
    SampleBatch,
    SampleRows,
    SeqGap,
    parse_event,
)
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.store.base import Base
from microfactory.store.outbox import enqueue_events

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
BigId = BigInteger().with_variant(Integer(), "sqlite")
INT64_MAX = MAX_SEQ  # the largest value of a BIGINT column (SQLite INTEGER alike)
TOPIC_CHARS = 512
REASON_CHARS = 4000


def storable_text(value: str, limit: int) -> str:
    """`value` as text every database stores: NUL written as the escape `\\x00`, a lone
    surrogate as `\\udXXX`, at most `limit` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    if not value.isascii():
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value[:limit]


def saturated(value: int) -> int:
    """A running total as a BIGINT column holds it: at most 2^63 - 1."""
    return value if value <= INT64_MAX else INT64_MAX


def to_us(dt: datetime) -> int:
    return (dt - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class EventRow(Base):
    __tablename__ = "tm_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    machine: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts_us: Mapped[int] = mapped_column(BigInteger)
    received_us: Mapped[int] = mapped_column(BigInteger)
    batch: Mapped[str] = mapped_column(String(24))
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_tm_events_machine_ts", "machine", "ts_us"),)


class SignalRow(Base):
    """One time series: a signal of a machine in a unit. Samples refer to it by integer id,
    which keeps the sample rows and their (signal, ts) index small."""

    __tablename__ = "tm_signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    machine: Mapped[str] = mapped_column(String(64))
    signal: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    __table_args__ = (UniqueConstraint("machine", "signal", "unit"),)


class SampleRow(Base):
    """A sensor sample; indexed by (signal id = machine + signal, ts)."""

    __tablename__ = "tm_samples"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[int] = mapped_column(Integer)
    ts_us: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_tm_samples_signal_ts", "signal_id", "ts_us"),)


class MachineStateRow(Base):
    __tablename__ = "tm_machine_state"
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    since_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_event_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    good: Mapped[int] = mapped_column(BigInteger)
    reject: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger)


class SeqGapRow(Base):
    __tablename__ = "tm_seq_gaps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_us: Mapped[int] = mapped_column(BigInteger)


class DeadLetterRow(Base):
    __tablename__ = "tm_dead_letters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_us: Mapped[int] = mapped_column(BigInteger, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # hash of topic + whole payload: one row per bad message however often it is delivered
    # (NULL only for rows stored before the key existed and not backfilled)
    key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (Index("uq_tm_dead_letters_key", "key", unique=True),)


class QuarantineRow(Base):
    """An event held for review (implausible sequence jump); see `Quarantined`."""

    __tablename__ = "tm_quarantine"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    machine: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts_us: Mapped[int] = mapped_column(BigInteger)
    received_us: Mapped[int] = mapped_column(BigInteger, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    decided_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    __table_args__ = (Index("ix_tm_quarantine_machine_status", "machine", "status", "seq"),)


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


# read by every station page view and station action (built once, not per call)
_STATUSES = select(_table(MachineStateRow)).order_by(_table(MachineStateRow).c.machine)


@dataclass(frozen=True)
class Bucket:
    """One downsampling bucket: [start, start + width)."""

    start: datetime
    count: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class RetentionResult:
    samples: int
    events: int
    dead_letters: int
    quarantined: int = 0


def _quarantined_from_row(r: Any) -> Quarantined:
    return Quarantined(
        event_id=r.event_id,
        machine=r.machine,
        kind=r.kind,
        seq=r.seq,
        ts=from_us(r.ts_us),
        received=from_us(r.received_us),
        topic=r.topic,
        reason=r.reason,
        payload=bytes(r.payload),
        status=r.status,
        id=r.id,
        decided=None if r.decided_us is None else from_us(r.decided_us),
    )


_EVENT_COLS = "event_id, machine, kind, seq, ts_us, received_us, batch, body"
ROWS_PER_STATEMENT = 400  # 8 columns x 400 = 3,200 parameters, within every limit


class SqlTelemetryTx:
    """One transaction of the ingester: events, samples, dead letters, states and gaps."""

    def __init__(self, conn: Connection, signal_ids: dict[tuple[str, str, str], int]) -> None:
        self._conn = conn
        self._ids = dict(signal_ids)  # committed ids plus those this transaction adds
        self.new_signals: dict[tuple[str, str, str], int] = {}
        self._dbapi: Any = conn.connection.driver_connection
        self._ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._batch = os.urandom(8).hex()

    def _values(self, n: int) -> str:
        return ", ".join([self._ph] * n)

    def _insert_rows(
        self, cur: Any, head: str, rows: Sequence[tuple[Any, ...]], tail: str = ""
    ) -> int:
        """`head VALUES (...), (...) tail` in statements of up to ROWS_PER_STATEMENT rows;
        return the number of rows the database reports as inserted."""
        if not rows:
            return 0
        one = f"({self._values(len(rows[0]))})"
        per = ROWS_PER_STATEMENT
        full = f"{head} VALUES {', '.join([one] * per)}{tail}"
        flat = chain.from_iterable
        inserted = 0
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            sql = (
                full
                if len(chunk) == per
                else (f"{head} VALUES {', '.join([one] * len(chunk))}{tail}")
            )
            cur.execute(sql, tuple(flat(chunk)))
            inserted += cur.rowcount
        return inserted

    def insert_events(self, events: Sequence[Event | SampleRows], received_us: int) -> set[str]:
        """Insert events not stored yet (and their samples); return the ids that were new."""
        if not events:
            return set()
        batch = self._batch
        rows = [
            (
                e.event_id,
                e.machine,
                e.kind,
                e.seq,
                (e.ts - EPOCH) // _US,
                received_us,
                batch,
                None if e.kind == "sample" or isinstance(e, SampleRows) else e.model_dump_json(),
            )
            for e in events
        ]
        cur = self._dbapi.cursor()
        inserted = self._insert_rows(
            cur,
            f"INSERT INTO tm_events ({_EVENT_COLS})",
            rows,
            " ON CONFLICT (event_id) DO NOTHING",
        )
        if inserted == len(rows):
            new = {r[0] for r in rows}
        else:
            new = self._inserted_by_this_batch([r[0] for r in rows])
        samples: list[tuple[int, int, float]] = []
        pending = set(new)  # a batch may hold one event twice: its samples go in once
        sid = self._signal_id
        get = self._ids.get
        extend = samples.extend
        for e in events:
            if isinstance(e, SampleRows) and e.event_id in pending:
                pending.discard(e.event_id)
                base = (e.ts - EPOCH) // _US
                m = e.machine
                extend(
                    [
                        (
                            get((m, sg, u)) or sid(m, sg, u),
                            base if st is None else (st - EPOCH) // _US,
                            v,
                        )
                        for sg, v, u, st in e.samples
                    ]
                )
            elif isinstance(e, SampleBatch) and e.event_id in pending:
                pending.discard(e.event_id)
                base = to_us(e.ts)
                m = e.machine
                samples.extend(
                    (
                        get((m, s.signal, s.unit)) or sid(m, s.signal, s.unit),
                        base if s.ts is None else to_us(s.ts),
                        s.value,
                    )
                    for s in e.samples
                )
        if samples:
            if self._ph == "?":
                self._insert_rows(cur, "INSERT INTO tm_samples (signal_id, ts_us, value)", samples)
            else:  # PostgreSQL: COPY, a fraction of the client CPU of any INSERT form
                with cur.copy("COPY tm_samples (signal_id, ts_us, value) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in samples:
                        write(row)
        cur.close()
        enqueue_events(self._conn, events, new)  # network replication, when enabled
        return new

    def _signal_id(self, machine: str, signal: str, unit: str) -> int:
        key = (machine, signal, unit)
        t = _table(SignalRow)
        self._conn.execute(
            text(
                "INSERT INTO tm_signals (machine, signal, unit) VALUES (:m, :s, :u) "
                "ON CONFLICT (machine, signal, unit) DO NOTHING"
            ),
            {"m": machine, "s": signal, "u": unit},
        )
        found = self._conn.execute(
            select(t.c.id).where(t.c.machine == machine, t.c.signal == signal, t.c.unit == unit)
        ).scalar_one()
        self.new_signals[key] = self._ids[key] = int(found)
        return int(found)

    def _inserted_by_this_batch(self, ids: list[str]) -> set[str]:
        new: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            result = self._conn.execute(
                select(EventRow.event_id).where(
                    EventRow.event_id.in_(chunk), EventRow.batch == self._batch
                )
            )
            new.update(result.scalars())
        return new

    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Store refused messages, each once (`key`): a redelivery adds nothing."""
        if not letters:
            return
        self._conn.execute(
            text(
                "INSERT INTO tm_dead_letters (received_us, topic, code, reason, payload, key) "
                "VALUES (:received_us, :topic, :code, :reason, :payload, :key) "
                "ON CONFLICT (key) DO NOTHING"
            ),
            [
                {
                    "received_us": to_us(d.received),
                    "topic": storable_text(d.topic, TOPIC_CHARS),
                    "code": d.code,
                    "reason": storable_text(d.reason, REASON_CHARS),
                    "payload": d.payload,
                    "key": d.key,
                }
                for d in {d.key: d for d in reversed(letters)}.values()
            ],
        )

    def insert_quarantined(self, items: Sequence[Quarantined]) -> None:
        """Hold events for review, each once (`event_id`)."""
        if not items:
            return
        self._conn.execute(
            text(
                "INSERT INTO tm_quarantine (event_id, machine, kind, seq, ts_us, received_us, "
                "topic, reason, payload, status) VALUES (:event_id, :machine, :kind, :seq, "
                ":ts_us, :received_us, :topic, :reason, :payload, 'pending') "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            [
                {
                    "event_id": q.event_id,
                    "machine": q.machine,
                    "kind": q.kind,
                    "seq": q.seq,
                    "ts_us": to_us(q.ts),
                    "received_us": to_us(q.received),
                    "topic": storable_text(q.topic, TOPIC_CHARS),
                    "reason": storable_text(q.reason, REASON_CHARS),
                    "payload": q.payload,
                }
                for q in items
            ],
        )

    def quarantined(
        self, *, status: str, machine: str | None = None, max_seq: int | None = None
    ) -> list[Quarantined]:
        """Held events of one status (of `machine`, up to `max_seq`), in (machine, seq) order."""
        t = _table(QuarantineRow)
        query = select(t).where(t.c.status == status).order_by(t.c.machine, t.c.seq, t.c.id)
        if machine is not None:
            query = query.where(t.c.machine == machine)
        if max_seq is not None:
            query = query.where(t.c.seq <= max_seq)
        return [_quarantined_from_row(r) for r in self._conn.execute(query.limit(10_000))]

    def set_quarantine_status(self, ids: Sequence[int], status: str, decided: datetime) -> None:
        if ids:
            t = _table(QuarantineRow)
            self._conn.execute(
                t.update()
                .where(t.c.id.in_(list(ids)))
                .values(status=status, decided_us=to_us(decided))
            )

    def save_statuses(self, statuses: Sequence[MachineStatus]) -> None:
        """Upsert the current state of each machine given (delete + insert, one statement each)."""
        if not statuses:
            return
        table = _table(MachineStateRow)
        names = [s.machine for s in statuses]
        self._conn.execute(delete(table).where(table.c.machine.in_(names)))
        self._conn.execute(
            table.insert(),
            [
                {
                    "machine": s.machine,
                    "state": s.state.value,
                    "mode": s.mode.value,
                    "reason": s.reason,
                    "since_us": None if s.since is None else to_us(s.since),
                    "last_seq": s.last_seq,
                    "last_event_us": None if s.last_event is None else to_us(s.last_event),
                    "good": saturated(s.good),
                    "reject": saturated(s.reject),
                    "events": saturated(s.events),
                }
                for s in statuses
            ],
        )

    def record_gap(self, gap: SeqGap) -> None:
        self._conn.execute(
            _table(SeqGapRow).insert(),
            {
                "machine": gap.machine,
                "first_seq": gap.first,
                "last_seq": gap.last,
                "detected_us": to_us(gap.detected),
            },
        )

    def fill_gap(self, machine: str, seq: int) -> bool:
        """A late event arrived: take `seq` out of the recorded gap holding it, if any."""
        table = _table(SeqGapRow)
        row = self._conn.execute(
            select(table).where(
                table.c.machine == machine, table.c.first_seq <= seq, table.c.last_seq >= seq
            )
        ).first()
        if row is None:
            return False
        self._conn.execute(delete(table).where(table.c.id == row.id))
        for first, last in ((row.first_seq, seq - 1), (seq + 1, row.last_seq)):
            if first <= last:
                self._conn.execute(
                    table.insert(),
                    {
                        "machine": machine,
                        "first_seq": first,
                        "last_seq": last,
                        "detected_us": row.detected_us,
                    },
                )
        return True


def _status_from_row(row: Any) -> MachineStatus:
    return MachineStatus(
        machine=row.machine,
        state=MachineState(row.state),
        mode=MachineMode(row.mode),
        reason=row.reason,
        since=None if row.since_us is None else from_us(row.since_us),
        last_seq=row.last_seq,
        last_event=None if row.last_event_us is None else from_us(row.last_event_us),
        good=row.good,
        reject=row.reject,
        events=row.events,
    )


class SqlTelemetryStore:
    """The telemetry store on an SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._signal_ids: dict[tuple[str, str, str], int] = {}
        # the hot path writes through the DBAPI cursor, whose errors SQLAlchemy does not wrap.
        # Unavailable: OperationalError (locked, full, unreachable, connection lost) and, for
        # PostgreSQL, InterfaceError (connection closed); sqlite3's InterfaceError is about a
        # bound value (the data's fault), so it is not one.
        dbapi = engine.dialect.dbapi
        raw: tuple[type[BaseException], ...] = ()
        if dbapi is not None:
            raw = (dbapi.OperationalError,)
            if engine.dialect.name != "sqlite":
                raw += (dbapi.InterfaceError,)
        self._unavailable: tuple[type[BaseException], ...] = (OperationalError, *raw)
        if engine.dialect.name != "sqlite":
            self._unavailable += (InterfaceError,)

    @contextmanager
    def transaction(self) -> Iterator[SqlTelemetryTx]:
        """One write transaction. A database that cannot be reached, is locked or is full
        raises `ConnectorError` (the ingester retries those: not the message's fault); other
        errors (the database refusing what it was given) pass through."""
        try:
            with self.engine.begin() as conn:
                tx = SqlTelemetryTx(conn, self._signal_ids)
                yield tx
        except self._unavailable as exc:
            raise ConnectorError(
                f"telemetry store unavailable: {getattr(exc, 'orig', None) or exc}"
            ) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise ConnectorError(f"telemetry store connection lost: {exc.orig}") from exc
            raise
        self._signal_ids.update(tx.new_signals)  # only once committed

    def _signal_ids_of(self, conn: Connection, machine: str, signal: str) -> list[int]:
        t = _table(SignalRow)
        query = select(t.c.id).where(t.c.machine == machine, t.c.signal == signal)
        return list(conn.execute(query).scalars())

    # reads ------------------------------------------------------------------------------------
    def known_machine_ids(self) -> list[str]:
        """Ids of the factory's machines (the foundation's `machines` table), sorted."""
        from microfactory.store.tables import MachineRow

        with self.engine.connect() as conn:
            return sorted(conn.execute(select(MachineRow.id)).scalars())

    def machine_statuses(self) -> list[MachineStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(_STATUSES).all()
        return [_status_from_row(r) for r in rows]

    def gaps(self, machine: str | None = None) -> list[SeqGap]:
        table = _table(SeqGapRow)
        query = select(table).order_by(table.c.machine, table.c.first_seq)
        if machine is not None:
            query = query.where(table.c.machine == machine)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [SeqGap(r.machine, r.first_seq, r.last_seq, from_us(r.detected_us)) for r in rows]

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        table = _table(DeadLetterRow)
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id).limit(limit)).all()
        return [
            DeadLetter(from_us(r.received_us), r.topic, r.code, r.reason, bytes(r.payload))
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Rows per telemetry table (events, samples, dead_letters, gaps, missing, quarantined
        = held for review)."""
        width = SeqGapRow.last_seq - SeqGapRow.first_seq + 1
        # SQLite's sum() raises on 64-bit overflow, total() is a float; PostgreSQL's sum of
        # bigints is numeric (exact)
        total = func.total(width) if self.engine.dialect.name == "sqlite" else func.sum(width)
        q = _table(QuarantineRow)
        with self.engine.connect() as conn:
            missing = conn.execute(select(func.coalesce(total, 0))).scalar_one()
            held = conn.execute(
                select(func.count()).select_from(q).where(q.c.status == "pending")
            ).scalar_one()
            return {
                "quarantined": int(held),
                "events": conn.execute(select(func.count()).select_from(EventRow)).scalar_one(),
                "samples": conn.execute(select(func.count()).select_from(SampleRow)).scalar_one(),
                "dead_letters": conn.execute(
                    select(func.count()).select_from(DeadLetterRow)
                ).scalar_one(),
                "gaps": conn.execute(select(func.count()).select_from(SeqGapRow)).scalar_one(),
                "missing": int(missing),
            }

    def events(
        self,
        *,
        machine: str | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Event]:
        """Stored non-sample events in (ts, seq) order; sample batches are read with `samples`."""
        t = _table(EventRow)
        query = select(t.c.body).where(t.c.body.is_not(None))
        if machine is not None:
            query = query.where(t.c.machine == machine)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if start is not None:
            query = query.where(t.c.ts_us >= to_us(start))
        if end is not None:
            query = query.where(t.c.ts_us < to_us(end))
        query = query.order_by(t.c.ts_us, t.c.seq).limit(limit)
        with self.engine.connect() as conn:
            bodies = conn.execute(query).scalars().all()
        return [parse_event(b) for b in bodies if b is not None]

    def samples(
        self, machine: str, signal: str, start: datetime, end: datetime, limit: int = 100_000
    ) -> list[tuple[datetime, float]]:
        """Raw samples of one signal in [start, end), oldest first."""
        t = _table(SampleRow)
        with self.engine.connect() as conn:
            ids = self._signal_ids_of(conn, machine, signal)
            query = (
                select(t.c.ts_us, t.c.value)
                .where(
                    t.c.signal_id.in_(ids),
                    t.c.ts_us >= to_us(start),
                    t.c.ts_us < to_us(end),
                )
                .order_by(t.c.ts_us, t.c.id)
                .limit(limit)
            )
            return [(from_us(ts), float(v)) for ts, v in conn.execute(query).all()]

    def downsample(
        self, machine: str, signal: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]:
        """min / max / mean / count per bucket of width `bucket` from `start`; empty buckets
        are left out."""
        width = bucket // _US
        if width <= 0:
            raise ValueError("bucket width must be at least one microsecond")
        t = _table(SampleRow)
        origin = to_us(start)
        index = (t.c.ts_us - origin) // width
        with self.engine.connect() as conn:
            ids = self._signal_ids_of(conn, machine, signal)
            query = (
                select(
                    index.label("b"),
                    func.count(),
                    func.min(t.c.value),
                    func.max(t.c.value),
                    func.avg(t.c.value),
                )
                .where(t.c.signal_id.in_(ids), t.c.ts_us >= origin, t.c.ts_us < to_us(end))
                .group_by("b")
                .order_by("b")
            )
            rows = conn.execute(query).all()
        return [
            Bucket(from_us(origin + int(b) * width), int(n), float(lo), float(hi), float(avg))
            for b, n, lo, hi, avg in rows
        ]

    def delete_before(self, cutoff: datetime) -> RetentionResult:
        """Retention: delete samples, events, dead letters and held events received before
        `cutoff`. Machine states and recorded gaps are kept."""
        limit = to_us(cutoff)
        with self.engine.begin() as conn:
            samples = conn.execute(delete(SampleRow).where(SampleRow.ts_us < limit)).rowcount
            events = conn.execute(delete(EventRow).where(EventRow.ts_us < limit)).rowcount
            letters = conn.execute(
                delete(DeadLetterRow).where(DeadLetterRow.received_us < limit)
            ).rowcount
            held = conn.execute(
                delete(QuarantineRow).where(QuarantineRow.received_us < limit)
            ).rowcount
        return RetentionResult(int(samples), int(events), int(letters), int(held))

    # review of held events ----------------------------------------------------------------------
    def quarantine(
        self, *, status: str | None = None, machine: str | None = None, limit: int = 1000
    ) -> list[Quarantined]:
        """Held events, oldest first (all statuses unless `status`)."""
        t = _table(QuarantineRow)
        query = select(t).order_by(t.c.id).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        if machine is not None:
            query = query.where(t.c.machine == machine)
        with self.engine.connect() as conn:
            return [_quarantined_from_row(r) for r in conn.execute(query)]

    def quarantine_counts(self) -> dict[str, int]:
        """Pending held events per machine."""
        t = _table(QuarantineRow)
        query = (
            select(t.c.machine, func.count()).where(t.c.status == "pending").group_by(t.c.machine)
        )
        with self.engine.connect() as conn:
            return {m: int(n) for m, n in conn.execute(query)}

    def decide_quarantined(self, ids: Sequence[int], status: str, decided: datetime) -> list[int]:
        """Mark pending held events `accepted` or `rejected`; return the ids that were pending
        (others are left alone: a decision is made once)."""
        if status not in ("accepted", "rejected"):
            raise ValueError("a decision is 'accepted' or 'rejected'")
        t = _table(QuarantineRow)
        with self.engine.begin() as conn:
            pending = list(
                conn.execute(
                    select(t.c.id).where(t.c.id.in_(list(ids)), t.c.status == "pending")
                ).scalars()
            )
            if pending:
                conn.execute(
                    t.update()
                    .where(t.c.id.in_(pending), t.c.status == "pending")
                    .values(status=status, decided_us=to_us(decided))
                )
        return [int(i) for i in pending]
