"""The print farm's own records: printer state (spool, nozzle, plate, settings, last host
status, the per-machine event sequence), print jobs, slices, and the outbox of shop-floor events
waiting to be published.

Everything that must change together changes in one transaction (`SqlPrintFarmStore.
transaction()`): a job that starts printing, the `job`/`state` events that say so and the
machine's sequence counter. The outbox is then published and marked; a crash in between means
the same events (same `event_id`) are published again, which the ingester deduplicates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from microfactory.shopfloor.events import Event, parse_event
from microfactory.shopfloor.printers import (
    HostState,
    JobState,
    PlateClearing,
    PrinterRecord,
    PrinterStatus,
    PrintJob,
    SliceRecord,
    Spool,
    Temperature,
)
from microfactory.store.base import Base, JSONType, UTCDateTime


class PrinterRow(Base):
    __tablename__ = "printfarm_printers"
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    material: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remaining_g: Mapped[float | None] = mapped_column(Float, nullable=True)
    nozzle_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    build_volume: Mapped[list[float] | None] = mapped_column(JSONType, nullable=True)
    plate_clear: Mapped[bool] = mapped_column(Boolean, default=False)
    plate_clearing: Mapped[str] = mapped_column(String(16), default="operator")
    retry_limit: Mapped[int] = mapped_column(Integer, default=2)
    changed_by: Mapped[str] = mapped_column(String(64), default="")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    published_state: Mapped[str] = mapped_column(String(160), default="")
    replan_wanted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class PrintJobRow(Base):
    __tablename__ = "printfarm_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), index=True)
    operation: Mapped[str] = mapped_column(String(80), index=True)
    work_order: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    file: Mapped[str] = mapped_column(String(200))
    slice_key: Mapped[str] = mapped_column(String(160))
    parts: Mapped[int] = mapped_column(Integer)
    filament_g: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class SliceRow(Base):
    __tablename__ = "printfarm_slices"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    model_sha: Mapped[str] = mapped_column(String(64), index=True)
    profile: Mapped[str] = mapped_column(String(300))
    copies: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    sliced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    print_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    filament_g: Mapped[float | None] = mapped_column(Float, nullable=True)
    filament_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    quote_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    quote_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    quote_filament_g: Mapped[float | None] = mapped_column(Float, nullable=True)


class OutboxRow(Base):
    __tablename__ = "printfarm_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    machine: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


# -- conversions ----------------------------------------------------------------------------


def status_to_json(status: PrinterStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "job": status.job,
        "progress": status.progress,
        "time_left_s": status.time_left_s,
        "print_time_s": status.print_time_s,
        "temperatures": [[t.heater, t.actual, t.target] for t in status.temperatures],
        "message": status.message,
    }


def status_from_json(data: dict[str, Any] | None) -> PrinterStatus:
    if not data:
        return PrinterStatus(HostState.UNREACHABLE)
    return PrinterStatus(
        state=HostState(data.get("state", "unreachable")),
        job=data.get("job"),
        progress=data.get("progress"),
        time_left_s=data.get("time_left_s"),
        print_time_s=data.get("print_time_s"),
        temperatures=tuple(Temperature(h, a, t) for h, a, t in data.get("temperatures", [])),
        message=data.get("message", ""),
    )


def _printer(row: PrinterRow) -> PrinterRecord:
    spool = None
    if row.material is not None:
        spool = Spool(row.material, row.lot, row.remaining_g or 0.0)
    volume = tuple(row.build_volume) if row.build_volume else None
    return PrinterRecord(
        machine=row.machine,
        spool=spool,
        nozzle_mm=row.nozzle_mm,
        build_volume_mm=volume,  # type: ignore[arg-type]
        plate_clear=row.plate_clear,
        plate_clearing=PlateClearing(row.plate_clearing),
        retry_limit=row.retry_limit,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
        status=status_from_json(row.status),
        status_at=row.status_at,
        message=row.message,
        published_state=row.published_state,
        replan_wanted=row.replan_wanted,
    )


JOB_KEYS = (
    "id", "machine", "operation", "work_order", "attempt", "file", "slice_key", "parts",
    "filament_g", "created_at", "started_at", "ended_at", "reason",
)  # fmt: skip
SLICE_KEYS = (
    "key", "model_sha", "profile", "copies", "ok", "sliced_at", "print_time_s", "filament_g",
    "filament_mm", "seconds", "error", "attempts", "quote_id", "quote_time_s", "quote_filament_g",
)  # fmt: skip


def _job(row: PrintJobRow) -> PrintJob:
    return PrintJob(state=JobState(row.state), **{k: getattr(row, k) for k in JOB_KEYS})


class SqlPrintFarmTx:
    """One transaction over the print farm's records."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # printers
    def printer(self, machine: str) -> PrinterRecord | None:
        row = self.s.get(PrinterRow, machine)
        return None if row is None else _printer(row)

    def printers(self) -> list[PrinterRecord]:
        return [
            _printer(r) for r in self.s.scalars(select(PrinterRow).order_by(PrinterRow.machine))
        ]

    def save_printer(self, record: PrinterRecord, *, first_seq: int = 0) -> None:
        """Insert or update a printer (its sequence counter starts at `first_seq`)."""
        row = self.s.get(PrinterRow, record.machine)
        if row is None:
            row = PrinterRow(machine=record.machine, next_seq=first_seq)
            self.s.add(row)
        spool = record.spool
        row.material = None if spool is None else spool.material
        row.lot = None if spool is None else spool.lot
        row.remaining_g = None if spool is None else spool.remaining_g
        row.nozzle_mm = record.nozzle_mm
        row.build_volume = None if record.build_volume_mm is None else list(record.build_volume_mm)
        row.plate_clear = record.plate_clear
        row.plate_clearing = record.plate_clearing.value
        row.retry_limit = record.retry_limit
        row.changed_by = record.changed_by
        row.changed_at = record.changed_at
        row.status = status_to_json(record.status)
        row.status_at = record.status_at
        row.message = record.message
        row.published_state = record.published_state
        row.replan_wanted = record.replan_wanted
        self.s.flush()

    def allocate_seq(self, machine: str, count: int = 1) -> int:
        """Reserve `count` consecutive sequence numbers of `machine`; return the first."""
        row = self.s.get(PrinterRow, machine, with_for_update=True)
        if row is None:
            raise LookupError(f"printer {machine} has no record yet")
        first = row.next_seq
        row.next_seq = first + count
        self.s.flush()
        return first

    # jobs
    def add_job(self, job: PrintJob) -> None:
        self.s.add(PrintJobRow(state=job.state.value, **{k: getattr(job, k) for k in JOB_KEYS}))
        self.s.flush()

    def save_job(self, job: PrintJob) -> None:
        row = self.s.get(PrintJobRow, job.id)
        if row is None:
            raise LookupError(f"print job {job.id} does not exist")
        row.state = job.state.value
        for k in JOB_KEYS:
            setattr(row, k, getattr(job, k))
        self.s.flush()

    def job(self, job_id: str) -> PrintJob | None:
        row = self.s.get(PrintJobRow, job_id)
        return None if row is None else _job(row)

    def jobs(
        self,
        *,
        machine: str | None = None,
        operation: str | None = None,
        states: Sequence[JobState] | None = None,
    ) -> list[PrintJob]:
        q = select(PrintJobRow).order_by(PrintJobRow.created_at, PrintJobRow.id)
        if machine is not None:
            q = q.where(PrintJobRow.machine == machine)
        if operation is not None:
            q = q.where(PrintJobRow.operation == operation)
        if states is not None:
            q = q.where(PrintJobRow.state.in_([s.value for s in states]))
        return [_job(r) for r in self.s.scalars(q)]

    # slices
    def slice(self, key: str) -> SliceRecord | None:
        row = self.s.get(SliceRow, key)
        return None if row is None else SliceRecord(**{k: getattr(row, k) for k in SLICE_KEYS})

    def save_slice(self, record: SliceRecord) -> None:
        row = self.s.get(SliceRow, record.key)
        if row is None:
            row = SliceRow(key=record.key)
            self.s.add(row)
        for k in SLICE_KEYS:
            setattr(row, k, getattr(record, k))
        self.s.flush()

    def slices(self) -> list[SliceRecord]:
        rows = self.s.scalars(select(SliceRow).order_by(SliceRow.sliced_at, SliceRow.key))
        return [SliceRecord(**{k: getattr(r, k) for k in SLICE_KEYS}) for r in rows]

    # outbox
    def add_events(self, events: Sequence[Event], at: datetime) -> None:
        self.s.add_all(
            OutboxRow(
                event_id=e.event_id,
                machine=e.machine,
                kind=e.kind,
                payload=e.to_json(),
                created_at=at,
            )
            for e in events
        )
        self.s.flush()


class SqlPrintFarmStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[SqlPrintFarmTx]:
        """Commit on success, roll back on an exception."""
        with self.sessions.begin() as s:
            yield SqlPrintFarmTx(s)

    def pending_events(self, limit: int = 500) -> list[tuple[int, Event]]:
        """Outbox entries not yet published, oldest first."""
        with self.sessions() as s:
            rows = s.execute(
                select(OutboxRow.id, OutboxRow.payload, OutboxRow.kind)
                .where(OutboxRow.published_at.is_(None))
                .order_by(OutboxRow.id)
                .limit(limit)
            ).all()
        return [(row_id, parse_event(payload, kind)) for row_id, payload, kind in rows]

    def mark_published(self, ids: Sequence[int], at: datetime) -> None:
        if not ids:
            return
        with self.sessions.begin() as s:
            s.execute(update(OutboxRow).where(OutboxRow.id.in_(list(ids))).values(published_at=at))
