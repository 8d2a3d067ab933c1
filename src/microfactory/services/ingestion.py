"""Telemetry ingestion: bus messages in, deduplicated events, samples and machine states out.

Per message: size check → topic → JSON + schema → topic/payload agreement → known machine →
plausible timestamp; a message failing any step becomes a dead letter (with the reason and the
raw payload) and the consumer carries on. Valid events are written in batches bounded by size
(`max_batch`) and time (`max_delay_s`) in one transaction: `INSERT ... ON CONFLICT (event_id) DO
NOTHING`, samples of the new events, dead letters, machine states and sequence gaps. Messages
are acknowledged to the bus only after that commit, so a crash means redelivery (then
deduplication), never loss.

Gap detection assumes one ingester per database (it keeps each machine's last `seq` in memory,
loaded from the store at start) and that a machine numbers its events 0, 1, 2, ... across
restarts. A missing range is recorded as a gap (machine, first, last); an event that arrives late
takes its number out of the gap again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from microfactory.connect.bus import Bus, Message
from microfactory.core.clock import Clock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.core.timeutil import to_rfc3339
from microfactory.shopfloor.events import (
    DeadLetter,
    Event,
    MachineStatus,
    PartCounter,
    SampleRows,
    SeqGap,
    StateChanged,
    parse_event,
    parse_sample_batch_fast,
)
from microfactory.shopfloor.topics import ROOT, parse_topic, subscription

MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A validated event: the model, or (sample batches off the wire) its compact form
Record = Event | SampleRows
DEAD_LETTER_PAYLOAD_LIMIT = 65536


class TelemetryTx(Protocol):
    """Port: one write transaction of the telemetry store."""

    def insert_events(self, events: Sequence[Record], received_us: int) -> set[str]: ...
    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...
    def save_statuses(self, statuses: Sequence[MachineStatus]) -> None: ...
    def record_gap(self, gap: SeqGap) -> None: ...
    def fill_gap(self, machine: str, seq: int) -> bool: ...


class TelemetryWriter(Protocol):
    """Port: what the ingester needs from a store (`SqlTelemetryStore` implements it)."""

    def transaction(self) -> AbstractContextManager[TelemetryTx]: ...
    def machine_statuses(self) -> list[MachineStatus]: ...


@dataclass(frozen=True)
class IngestSettings:
    max_batch: int = 2000
    max_delay_s: float = 0.05
    max_payload_bytes: int = 256 * 1024
    max_future: timedelta | None = timedelta(days=1)
    min_ts: datetime = MIN_TS
    queue_size: int = 20_000
    root: str = ROOT

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_delay_s <= 0 or self.queue_size < 1:
            raise ValueError("max_batch, max_delay_s and queue_size must be positive")


@dataclass
class IngestCounters:
    received: int = 0
    ingested: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    gaps: int = 0
    missing: int = 0
    late: int = 0
    batches: int = 0
    lag_s: float = 0.0
    db_retries: int = 0
    dead_by_code: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "gaps": self.gaps,
            "missing": self.missing,
            "late": self.late,
            "batches": self.batches,
            "lag_s": round(self.lag_s, 3),
            "db_retries": self.db_retries,
            "dead_by_code": dict(self.dead_by_code),
        }


@dataclass(frozen=True)
class BatchResult:
    """What one committed batch did. `stored` holds the new events as validated (sample batches
    off the wire in compact form); `new` gives them all as event models (built on first use)."""

    stored: list[Record]
    duplicates: int
    dead: list[DeadLetter]
    gaps: list[SeqGap]
    committed_at: float

    @cached_property
    def new(self) -> list[Event]:
        return [r.to_event() if isinstance(r, SampleRows) else r for r in self.stored]


CommitHook = Callable[[BatchResult], None]


class Ingester:
    """The ingestion service. Use `process` for a synchronous batch, or `attach` + `start` to
    consume a bus on a worker thread (`stop` drains, commits and acknowledges what it has)."""

    def __init__(
        self,
        writer: TelemetryWriter,
        *,
        clock: Clock,
        known_machines: Collection[str] | None = None,
        settings: IngestSettings | None = None,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.settings = settings or IngestSettings()
        self.known = None if known_machines is None else frozenset(known_machines)
        self.on_commit = on_commit
        self.counters = IngestCounters()
        self._statuses = {s.machine: s for s in writer.machine_statuses()}
        # hand-over from the bus thread to the worker: one lock, three conditions on it
        self._pending: deque[tuple[Message, Record | DeadLetter]] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # first message, or a full batch
        self._room = threading.Condition(self._lock)  # the queue is below queue_size again
        self._bus: Bus | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)  # everything handed over is committed
        self._busy = 0
        self.error: BaseException | None = None

    # validation -------------------------------------------------------------------------------
    def _validate(self, topic: str, payload: bytes, now: datetime) -> Record | DeadLetter:
        def dead(code: str, reason: str) -> DeadLetter:
            return DeadLetter(now, topic, code, reason, bytes(payload[:DEAD_LETTER_PAYLOAD_LIMIT]))

        s = self.settings
        if len(payload) > s.max_payload_bytes:
            return dead("oversize", f"payload of {len(payload)} bytes > {s.max_payload_bytes}")
        try:
            where = parse_topic(topic, s.root)
            fast = parse_sample_batch_fast(payload) if where.kind == "sample" else None
            event: Record = parse_event(payload, where.kind) if fast is None else fast
        except ValidationError as exc:
            return dead(exc.where or "schema", exc.reason)
        if event.machine != where.machine or event.kind != where.kind:
            return dead(
                "schema",
                f"payload is a {event.kind} event of {event.machine} "
                f"but the topic says {where.kind} of {where.machine}",
            )
        problem = self._implausible(event, now)
        return event if problem is None else dead(*problem)

    def _implausible(self, event: Record, now: datetime) -> tuple[str, str] | None:
        s = self.settings
        if self.known is not None and event.machine not in self.known:
            return "unknown_machine", f"machine {event.machine!r} is not known"
        if event.ts < s.min_ts or (s.max_future is not None and event.ts > now + s.max_future):
            return "timestamp", f"timestamp {event.ts.isoformat()} is implausible"
        return None

    # one batch --------------------------------------------------------------------------------
    def process(self, items: Sequence[tuple[str, bytes]]) -> BatchResult:
        """Validate and store one batch in one transaction; return what happened."""
        now = self.clock.now()
        return self._write([self._validate(topic, payload, now) for topic, payload in items], now)

    def process_events(self, events: Sequence[Event], topic: str = "(in-process)") -> BatchResult:
        """Store event objects from an in-process producer (the digital twin) in one batch,
        with the same checks, deduplication and gap detection as the wire path."""
        now = self.clock.now()
        outcomes: list[Record | DeadLetter] = []
        for event in events:
            problem = self._implausible(event, now)
            outcomes.append(
                event
                if problem is None
                else DeadLetter(now, topic, problem[0], problem[1], event.to_json())
            )
        return self._write(outcomes, now)

    def _write(self, outcomes: Sequence[Record | DeadLetter], now: datetime) -> BatchResult:
        events: list[Record] = []
        dead: list[DeadLetter] = []
        for outcome in outcomes:
            if isinstance(outcome, DeadLetter):
                dead.append(outcome)
            else:
                events.append(outcome)
        received_us = (now - EPOCH) // timedelta(microseconds=1)
        gaps: list[SeqGap] = []
        with self.writer.transaction() as tx:
            new_ids = tx.insert_events(events, received_us)
            new: list[Record] = []
            for e in events:  # a batch may hold the same event twice: keep the first
                if e.event_id in new_ids:
                    new_ids.discard(e.event_id)
                    new.append(e)
            touched, late, filled = self._advance(tx, new, now, gaps)
            tx.insert_dead_letters(dead)
            tx.save_statuses(list(touched.values()))
        # committed: only now does the in-memory view move on (a failed batch is retried)
        self._statuses.update(touched)
        self.counters.late += late
        self.counters.missing -= filled
        result = BatchResult(new, len(events) - len(new), dead, gaps, time.time())
        self._count(result, len(outcomes))
        if self.on_commit is not None:
            self.on_commit(result)
        return result

    def _advance(
        self, tx: TelemetryTx, new: list[Record], now: datetime, gaps: list[SeqGap]
    ) -> tuple[dict[str, MachineStatus], int, int]:
        """Sequence and state bookkeeping on copies of the machine statuses; returns the
        updated copies, the number of late events and of gap entries they filled."""
        touched: dict[str, MachineStatus] = {}
        late = filled = 0
        for event in sorted(new, key=lambda e: (e.machine, e.seq)):
            st = touched.get(event.machine)
            if st is None:
                known = self._statuses.get(event.machine)
                st = touched[event.machine] = (
                    MachineStatus(event.machine) if known is None else replace(known)
                )
            st.events += 1
            if isinstance(event, PartCounter):
                st.good += event.good
                st.reject += event.reject
            if getattr(event, "source", None) is not None:
                # a person or a host reported it: no machine sequence to follow
                if isinstance(event, StateChanged):
                    _set_state(st, event)
                continue
            if event.seq <= st.last_seq:
                filled += tx.fill_gap(event.machine, event.seq)
                late += 1
                continue
            if event.seq > st.last_seq + 1:
                gap = SeqGap(event.machine, st.last_seq + 1, event.seq - 1, now)
                tx.record_gap(gap)
                gaps.append(gap)
            st.last_seq = event.seq
            st.last_event = event.ts
            if isinstance(event, StateChanged):
                _set_state(st, event)
        return touched, late, filled

    def _count(self, result: BatchResult, received: int) -> None:
        c = self.counters
        c.received += received
        c.ingested += len(result.stored)
        c.duplicates += result.duplicates
        c.dead_lettered += len(result.dead)
        for d in result.dead:
            c.dead_by_code[d.code] = c.dead_by_code.get(d.code, 0) + 1
        c.gaps += len(result.gaps)
        c.missing += sum(g.missing for g in result.gaps)
        c.batches += 1
        if result.stored:
            newest = max(e.ts for e in result.stored)
            c.lag_s = max(0.0, result.committed_at - newest.timestamp())

    # bus consumer -----------------------------------------------------------------------------
    def attach(self, bus: Bus, pattern: str | None = None) -> None:
        """Subscribe to `pattern` (default: every machine under the settings' root)."""
        self._bus = bus
        bus.subscribe(pattern or subscription(self.settings.root), self._enqueue)

    def _enqueue(self, message: Message) -> None:
        """Bus handler: validate here, on the bus's delivery thread, so that validation runs
        while the worker thread is inside the database (which releases the GIL)."""
        outcome = self._validate(message.topic, message.payload, self.clock.now())
        pending = self._pending
        with self._lock:
            while len(pending) >= self.settings.queue_size and self.error is None:
                self._room.wait(0.5)  # back-pressure on the bus (and so on the broker)
            self._busy += 1
            pending.append((message, outcome))
            if len(pending) == 1 or len(pending) == self.settings.max_batch:
                self._arrived.notify()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ingester", daemon=True)
        self._thread.start()

    def _take_batch(self) -> list[tuple[Message, Record | DeadLetter]]:
        """Up to `max_batch` messages, waiting at most `max_delay_s` after the first one."""
        pending, max_batch = self._pending, self.settings.max_batch
        with self._lock:
            if not pending:
                self._arrived.wait(0.2)
                if not pending:
                    return []
            if len(pending) < max_batch:
                deadline = time.monotonic() + self.settings.max_delay_s
                while len(pending) < max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
            batch = [pending.popleft() for _ in range(min(len(pending), max_batch))]
            self._room.notify_all()
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            try:
                self._write_with_retry([outcome for _, outcome in batch])
            except BaseException as exc:
                self.error = exc
                self._stop.set()
                with self._idle:
                    self._idle.notify_all()
                return
            if self._bus is not None:
                self._bus.ack_many([m for m, _ in batch])
            with self._idle:
                self._busy -= len(batch)
                if self._busy <= 0:
                    self._idle.notify_all()

    def _write_with_retry(self, outcomes: list[Record | DeadLetter]) -> None:
        """A database that is unreachable (ConnectorError) is retried with back-off until it
        comes back or the ingester is stopped; the batch stays unacknowledged meanwhile."""
        delay = 0.5
        while True:
            try:
                self._write(outcomes, self.clock.now())
                return
            except ConnectorError:
                self.counters.db_retries += 1
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every message handed to the ingester has been committed."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0 and self.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.5))
        return self.error is None

    def stop(self, timeout: float = 30.0) -> None:
        """Commit and acknowledge what was received, then stop the worker."""
        self.drain(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def queued(self) -> int:
        return len(self._pending)

    def statuses(self) -> list[MachineStatus]:
        return [replace(s) for s in sorted(self._statuses.values(), key=lambda s: s.machine)]


def _set_state(st: MachineStatus, event: StateChanged) -> None:
    if (st.state, st.mode, st.reason) != (event.state, event.mode, event.reason):
        st.since = event.ts
    st.state, st.mode, st.reason = event.state, event.mode, event.reason


# queries ----------------------------------------------------------------------------------------


class TelemetryReader(Protocol):
    """Port: the read side of the telemetry store (`SqlTelemetryStore` implements it)."""

    def machine_statuses(self) -> list[MachineStatus]: ...
    def gaps(self, machine: str | None = None) -> list[SeqGap]: ...
    def counts(self) -> dict[str, int]: ...
    def delete_before(self, cutoff: datetime) -> Any: ...


def machine_status_report(reader: TelemetryReader) -> dict[str, Any]:
    """Every machine's current state with its lost-data ranges, plus store totals."""
    gaps: dict[str, list[SeqGap]] = {}
    for gap in reader.gaps():
        gaps.setdefault(gap.machine, []).append(gap)
    machines = []
    for s in reader.machine_statuses():
        mine = gaps.get(s.machine, [])
        machines.append(
            {
                "machine": s.machine,
                "state": s.state.value,
                "mode": s.mode.value,
                "reason": s.reason,
                "since": None if s.since is None else to_rfc3339(s.since),
                "last_event": None if s.last_event is None else to_rfc3339(s.last_event),
                "last_seq": s.last_seq,
                "events": s.events,
                "good": s.good,
                "reject": s.reject,
                "missing": sum(g.missing for g in mine),
                "gaps": [[g.first, g.last] for g in mine],
            }
        )
    return {"machines": machines, "totals": reader.counts()}


def apply_retention(reader: TelemetryReader, clock: Clock, keep: timedelta) -> dict[str, Any]:
    """Delete telemetry older than `keep` before now; return what was deleted and the cutoff."""
    if keep < timedelta(0):
        raise ValidationError("retention must not be negative", where="keep")
    cutoff = clock.now() - keep
    result = reader.delete_before(cutoff)
    return {
        "cutoff": to_rfc3339(cutoff),
        "samples": result.samples,
        "events": result.events,
        "dead_letters": result.dead_letters,
    }
