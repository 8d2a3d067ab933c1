"""Telemetry ingestion: bus messages in, deduplicated events, samples and machine states out.

Per message: size check → topic → JSON + schema → topic/payload agreement → known machine →
plausible timestamps (the event's and each sample's); a message failing any step becomes a dead
letter (with the reason and the raw payload) and the consumer carries on. That is one boundary
(`_validate`): *any* exception while decoding one message makes that message a dead letter
(code `decode` when no rule foresaw it), never a stopped consumer.

Valid events are written in batches bounded by size (`max_batch`) and time (`max_delay_s`) in
one transaction: `INSERT ... ON CONFLICT (event_id) DO NOTHING`, samples of the new events, dead
letters (once per message: keyed by a hash of topic and payload), held events, machine states
and sequence gaps. Messages are acknowledged to the bus only after that commit, so a crash means
redelivery (then deduplication), never loss. A sender that asked for a store receipt (the edge
buffer) gets one after the commit (`shopfloor.receipts`).

Poison quarantine: a batch the store refuses for a reason other than a lost connection is split
in halves and retried, down to the one message the store refuses; that message becomes a dead
letter with code `poison` (the reason names the database error), the others are committed, and
all are acknowledged. If the store refuses even that dead letter, the store (not the message) is
broken: the batch is retried with back-off like an unreachable database, unacknowledged.

Plausibility of sequence numbers: an event whose `seq` is more than `seq_window` past its
machine's last sequence number is not trusted. It is held for review in the quarantine (stored,
visible, not applied: neither the event store, `last_seq` nor the machine's state see it) until
a person accepts it (then it is applied, and held events of that machine now within the window
follow) or rejects it. Decisions are made in the store (`machines quarantine accept|reject`)
and applied by the running ingester within `review_poll_s` (or by the next one to start).

Gap detection assumes one ingester per database (it keeps each machine's last `seq` in memory,
loaded from the store at start) and that a machine numbers its events 0, 1, 2, ... across
restarts. A missing range is recorded as a gap (machine, first, last); an event that arrives late
takes its number out of the gap again. Running part totals saturate at 2^63 - 1.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from microfactory.core.clock import Clock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.core.timeutil import to_rfc3339
from microfactory.services.ports import (
    Bus,
    Message,
    TelemetryReader,
    TelemetryTx,
    TelemetryWriter,
)
from microfactory.shopfloor.events import (
    MAX_SEQ,
    DeadLetter,
    Event,
    MachineStatus,
    PartCounter,
    Quarantined,
    SampleBatch,
    SampleRows,
    SeqGap,
    StateChanged,
    dead_letter_key,
    parse_event,
    parse_sample_batch_fast,
)
from microfactory.shopfloor.receipts import is_receipt_topic, receipt_payloads
from microfactory.shopfloor.topics import ROOT, parse_topic, subscription

log = logging.getLogger("microfactory.ingest")

MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A validated event: the model, or (sample batches off the wire) its compact form
Record = Event | SampleRows
Outcome = Record | DeadLetter
DEAD_LETTER_PAYLOAD_LIMIT = 65536
IN_PROCESS = "(in-process)"


@dataclass(frozen=True)
class IngestSettings:
    """`seq_window`: how far past a machine's last sequence number an event may jump before it
    is held for review (None: trust every jump). `review_poll_s`: how often the consumer looks
    for accepted held events. `receipts`: answer senders that ask for store receipts."""

    max_batch: int = 2000
    max_delay_s: float = 0.05
    max_payload_bytes: int = 256 * 1024
    max_future: timedelta | None = timedelta(days=1)
    min_ts: datetime = MIN_TS
    queue_size: int = 20_000
    root: str = ROOT
    seq_window: int | None = 10_000
    review_poll_s: float = 1.0
    receipts: bool = True

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_delay_s <= 0 or self.queue_size < 1:
            raise ValueError("max_batch, max_delay_s and queue_size must be positive")
        if self.seq_window is not None and self.seq_window < 1:
            raise ValueError("seq_window must be at least 1 (or None: no plausibility check)")
        if self.review_poll_s <= 0:
            raise ValueError("review_poll_s must be positive")


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
    quarantined: int = 0
    reviews_applied: int = 0
    store_refusals: int = 0
    receipts: int = 0
    receipt_errors: int = 0
    review_errors: int = 0

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
            "quarantined": self.quarantined,
            "reviews_applied": self.reviews_applied,
            "store_refusals": self.store_refusals,
            "receipts": self.receipts,
            "receipt_errors": self.receipt_errors,
            "review_errors": self.review_errors,
        }


@dataclass(frozen=True)
class BatchResult:
    """What one committed batch did. `stored` holds the new events as validated (sample batches
    off the wire in compact form); `new` gives them all as event models (built on first use);
    `held` the events held for review instead of stored."""

    stored: list[Record]
    duplicates: int
    dead: list[DeadLetter]
    gaps: list[SeqGap]
    committed_at: float
    held: list[Quarantined] = field(default_factory=list)

    @cached_property
    def new(self) -> list[Event]:
        return [r.to_event() if isinstance(r, SampleRows) else r for r in self.stored]


CommitHook = Callable[[BatchResult], None]


class _StoreBroken(ConnectorError):
    """The store refused even a dead letter: the store is at fault, not a message."""


def _wire(record: Record) -> bytes:
    return record.payload if isinstance(record, SampleRows) else record.to_json()


def _sample_stamps(event: Record) -> list[datetime]:
    if isinstance(event, SampleRows):
        return [s[3] for s in event.samples if s[3] is not None]
    if isinstance(event, SampleBatch):
        return [s.ts for s in event.samples if s.ts is not None]
    return []


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
        self._pending: deque[tuple[Message, Outcome]] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # first message, or a full batch
        self._room = threading.Condition(self._lock)  # the queue is below queue_size again
        self._bus: Bus | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)  # everything handed over is committed
        self._busy = 0
        self._next_review = 0.0
        self.error: BaseException | None = None

    # validation: the one boundary between the wire and the store ------------------------------
    def _validate(self, topic: str, payload: bytes, now: datetime) -> Outcome:
        """The event in `payload`, or a dead letter saying why not. Never raises."""
        try:
            return self._decode(topic, payload, now)
        except Exception as exc:  # whatever no rule foresaw: this message, not the consumer
            log.warning("dead-lettering a message on %r: %s: %s", topic, type(exc).__name__, exc)
            return self._dead(now, topic, payload, "decode", f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _dead(now: datetime, topic: str, payload: bytes, code: str, reason: str) -> DeadLetter:
        if isinstance(payload, str):  # an in-process caller handed text
            payload = payload.encode("utf-8", "surrogatepass")
        payload = bytes(payload)
        return DeadLetter(
            now,
            topic,
            code,
            reason,
            payload[:DEAD_LETTER_PAYLOAD_LIMIT],
            dead_letter_key(topic, payload),
        )

    def _decode(self, topic: str, payload: bytes, now: datetime) -> Outcome:
        s = self.settings
        if len(payload) > s.max_payload_bytes:
            return self._dead(
                now,
                topic,
                payload,
                "oversize",
                f"payload of {len(payload)} bytes > {s.max_payload_bytes}",
            )
        try:
            where = parse_topic(topic, s.root)
            fast = parse_sample_batch_fast(payload) if where.kind == "sample" else None
            event: Record = parse_event(payload, where.kind) if fast is None else fast
        except ValidationError as exc:
            return self._dead(now, topic, payload, exc.where or "schema", exc.reason)
        if event.machine != where.machine or event.kind != where.kind:
            return self._dead(
                now,
                topic,
                payload,
                "schema",
                f"payload is a {event.kind} event of {event.machine} "
                f"but the topic says {where.kind} of {where.machine}",
            )
        problem = self._implausible(event, now)
        return event if problem is None else self._dead(now, topic, payload, *problem)

    def _implausible(self, event: Record, now: datetime) -> tuple[str, str] | None:
        s = self.settings
        if self.known is not None and event.machine not in self.known:
            return "unknown_machine", f"machine {event.machine!r} is not known"
        latest = None if s.max_future is None else now + s.max_future
        if event.ts < s.min_ts or (latest is not None and event.ts > latest):
            return "timestamp", f"timestamp {event.ts.isoformat()} is implausible"
        for i, ts in enumerate(_sample_stamps(event)):
            if ts < s.min_ts or (latest is not None and ts > latest):
                return "timestamp", f"samples.{i}.ts {ts.isoformat()} is implausible"
        return None

    # plausibility of sequence numbers ---------------------------------------------------------
    def _screen(
        self, events: list[Record], topics: dict[int, str], now: datetime
    ) -> tuple[list[Record], list[Quarantined]]:
        """Split off the events whose `seq` jumps more than `seq_window` past their machine's
        last sequence number (as committed, plus what this batch accepts before them)."""
        window = self.settings.seq_window
        if window is None or not events:
            return events, []
        top: dict[str, int] = {}

        def last(machine: str) -> int:
            known = self._statuses.get(machine)
            return -1 if known is None else known.last_seq

        for e in events:  # the common case: nothing past the window, no sorting needed
            if getattr(e, "source", None) is not None:
                continue  # reported by a person or a host: no machine sequence to check
            if e.machine not in top:
                top[e.machine] = last(e.machine)
            if e.seq > top[e.machine] + window:
                break
        else:
            return events, []
        top.clear()
        held: list[Quarantined] = []
        held_ids: set[int] = set()
        for e in sorted(events, key=lambda e: (e.machine, e.seq)):
            if getattr(e, "source", None) is not None:
                continue
            hi = top.get(e.machine)
            if hi is None:
                hi = top[e.machine] = last(e.machine)
            if e.seq > hi + window:
                held_ids.add(id(e))
                held.append(
                    Quarantined(
                        event_id=e.event_id,
                        machine=e.machine,
                        kind=e.kind,
                        seq=e.seq,
                        ts=e.ts,
                        received=now,
                        topic=topics.get(id(e), IN_PROCESS),
                        reason=f"seq {e.seq} is {e.seq - hi} past the last sequence number "
                        f"{hi} of {e.machine} (window {window})",
                        payload=_wire(e),
                    )
                )
            else:
                top[e.machine] = max(hi, e.seq)
        return [e for e in events if id(e) not in held_ids], held

    # one batch --------------------------------------------------------------------------------
    def process(self, items: Sequence[tuple[str, bytes]]) -> BatchResult:
        """Validate and store one batch; return what happened. A message the store refuses is
        dead-lettered as `poison` (the result then covers the whole batch)."""
        now = self.clock.now()
        outcomes = [self._validate(topic, payload, now) for topic, payload in items]
        return self._store(outcomes, [topic for topic, _ in items])

    def process_events(self, events: Sequence[Event], topic: str = IN_PROCESS) -> BatchResult:
        """Store event objects from an in-process producer (the digital twin) in one batch,
        with the same checks, deduplication and gap detection as the wire path."""
        now = self.clock.now()
        outcomes: list[Outcome] = []
        for event in events:
            try:
                problem = self._implausible(event, now)
            except Exception as exc:
                problem = ("decode", f"{type(exc).__name__}: {exc}")
            outcomes.append(
                event if problem is None else self._dead(now, topic, event.to_json(), *problem)
            )
        return self._store(outcomes, [topic] * len(outcomes))

    def _store(self, outcomes: Sequence[Outcome], topics: Sequence[str]) -> BatchResult:
        """Commit `outcomes` (with poison quarantine); one result for all of it."""
        results = self._commit_isolating(list(outcomes), list(topics))
        if len(results) == 1:
            return results[0]
        return BatchResult(
            [e for r in results for e in r.stored],
            sum(r.duplicates for r in results),
            [d for r in results for d in r.dead],
            [g for r in results for g in r.gaps],
            results[-1].committed_at,
            [q for r in results for q in r.held],
        )

    def _commit_isolating(self, outcomes: list[Outcome], topics: list[str]) -> list[BatchResult]:
        """Commit; when the store refuses (not a lost connection), bisect down to the messages
        it refuses and dead-letter those as `poison`. Each committed part is counted and handed
        to `on_commit` as it commits."""
        try:
            return [self._write(outcomes, topics)]
        except ConnectorError:
            raise
        except Exception as exc:
            self.counters.store_refusals += 1
            if len(outcomes) > 1:
                half = len(outcomes) // 2
                return self._commit_isolating(outcomes[:half], topics[:half]) + (
                    self._commit_isolating(outcomes[half:], topics[half:])
                )
            return [self._poison(outcomes[0], topics[0], exc)]

    def _poison(self, outcome: Outcome, topic: str, exc: Exception) -> BatchResult:
        reason = f"the store refused it: {type(exc).__name__}: {exc}"
        log.warning("poison message on %r: %s", topic, reason)
        if isinstance(outcome, DeadLetter):  # even the dead letter failed: keep its identity
            payload, key = outcome.payload, outcome.key
        else:
            payload = _wire(outcome)
            key = dead_letter_key(topic, payload)
        letter = DeadLetter(self.clock.now(), topic, "poison", reason, payload, key)
        try:
            return self._write([letter], [topic])
        except ConnectorError:
            raise
        except Exception as again:
            raise _StoreBroken(
                f"the telemetry store refuses even a dead letter ({type(again).__name__}: "
                f"{again}); first refusal: {reason}"
            ) from again

    def _write(
        self,
        outcomes: Sequence[Outcome],
        topics: Sequence[str],
        *,
        trusted: bool = False,
        applied: Sequence[int] = (),
    ) -> BatchResult:
        """Commit one batch in one transaction, count it and hand it to `on_commit`.
        `trusted`: accepted held events (not screened again); `applied`: ids of held events
        this batch applies (marked so in the same transaction)."""
        now = self.clock.now()
        events: list[Record] = []
        dead: list[DeadLetter] = []
        where: dict[int, str] = {}
        for outcome, topic in zip(outcomes, topics, strict=True):
            if isinstance(outcome, DeadLetter):
                dead.append(outcome)
            else:
                events.append(outcome)
                where[id(outcome)] = topic
        held: list[Quarantined] = []
        if not trusted:
            events, held = self._screen(events, where, now)
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
            tx.insert_quarantined(held)
            tx.save_statuses(list(touched.values()))
            tx.set_quarantine_status(applied, "applied", now)
        # committed: only now does the in-memory view move on (a failed batch is retried)
        self._statuses.update(touched)
        self.counters.late += late
        self.counters.missing -= filled
        result = BatchResult(new, len(events) - len(new), dead, gaps, time.time(), held)
        self._count(result, 0 if applied else len(outcomes))
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
            st.events = min(st.events + 1, MAX_SEQ)
            if isinstance(event, PartCounter):  # running totals saturate at 2^63 - 1
                st.good = min(st.good + event.good, MAX_SEQ)
                st.reject = min(st.reject + event.reject, MAX_SEQ)
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
        c.quarantined += len(result.held)
        c.gaps += len(result.gaps)
        c.missing += sum(g.missing for g in result.gaps)
        c.batches += 1
        if result.stored:
            newest = max(e.ts for e in result.stored)
            c.lag_s = max(0.0, result.committed_at - newest.timestamp())

    # review of held events --------------------------------------------------------------------
    def apply_reviews(self) -> int:
        """Apply the held events a person accepted, each followed by the held events of its
        machine that are then within the window; return how many events were applied.
        Runs on the consumer's worker every `review_poll_s`; call it yourself with `process`."""
        applied = 0
        while True:
            with self.writer.transaction() as tx:
                accepted = tx.quarantined(status="accepted")
            if not accepted:
                return applied
            for item in accepted:
                applied += self._apply_held([item], trusted=True)
                applied += self._release(item.machine)

    def _release(self, machine: str) -> int:
        window = self.settings.seq_window
        released = 0
        while window is not None:
            known = self._statuses.get(machine)
            limit = (-1 if known is None else known.last_seq) + window
            with self.writer.transaction() as tx:
                due = tx.quarantined(status="pending", machine=machine, max_seq=limit)
            if not due:
                break
            released += self._apply_held(due, trusted=False)
        return released

    def _apply_held(self, items: list[Quarantined], *, trusted: bool) -> int:
        """Store held events, marking them applied in the same transaction."""
        outcomes: list[Outcome] = []
        for q in items:
            try:
                outcomes.append(parse_event(q.payload, q.kind))
            except Exception as exc:  # we stored it, so unexpected: refuse it visibly
                reason = f"{type(exc).__name__}: {exc}"
                outcomes.append(self._dead(self.clock.now(), q.topic, q.payload, "decode", reason))
        self._write(
            outcomes, [q.topic for q in items], trusted=trusted, applied=[q.id for q in items]
        )
        self.counters.reviews_applied += len(items)
        return len(items)

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

    def _take_batch(self) -> list[tuple[Message, Outcome]]:
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
            try:
                self._poll_reviews()
            except Exception as exc:  # the next poll tries again; ingestion goes on meanwhile
                self.counters.review_errors += 1
                log.warning("applying reviewed events failed: %s: %s", type(exc).__name__, exc)
            batch = self._take_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            try:
                self._write_with_retry([o for _, o in batch], [m.topic for m, _ in batch])
            except BaseException as exc:
                self._fail(exc)
                return
            messages = [m for m, _ in batch]
            if self._bus is not None:
                self._bus.ack_many(messages)
                self._send_receipts(messages)
            with self._idle:
                self._busy -= len(batch)
                if self._busy <= 0:
                    self._idle.notify_all()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._stop.set()
        with self._idle:
            self._idle.notify_all()

    def _poll_reviews(self) -> None:
        now = time.monotonic()
        if now >= self._next_review:
            self._next_review = now + self.settings.review_poll_s
            self.apply_reviews()

    def _send_receipts(self, messages: list[Message]) -> None:
        """Tell each sender that asked (MQTT v5 Response Topic + Correlation Data) which of its
        messages are handled for good. A receipt that does not go out only costs a re-send."""
        if self._bus is None or not self.settings.receipts:
            return
        by_topic: dict[str, list[bytes]] = {}
        for m in messages:
            if m.reply_to and m.correlation:
                by_topic.setdefault(m.reply_to, []).append(m.correlation)
        for topic, tokens in by_topic.items():
            if not is_receipt_topic(topic, self.settings.root):
                self.counters.receipt_errors += 1
                log.warning("not answering a receipt request to a foreign topic %r", topic)
                continue
            try:
                for payload in receipt_payloads(tokens):
                    self._bus.publish(topic, payload)
                    self.counters.receipts += 1
            except ConnectorError as exc:
                self.counters.receipt_errors += 1
                log.warning("a store receipt to %r did not go out: %s", topic, exc)

    def _write_with_retry(self, outcomes: list[Outcome], topics: list[str]) -> None:
        """A database that is unreachable (ConnectorError) is retried with back-off until it
        comes back or the ingester is stopped; the batch stays unacknowledged meanwhile."""
        delay = 0.5
        while True:
            try:
                self._commit_isolating(outcomes, topics)
                return
            except ConnectorError as exc:
                self.counters.db_retries += 1
                log.warning("telemetry store unavailable, retrying in %.1f s: %s", delay, exc)
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


def machine_status_report(reader: TelemetryReader) -> dict[str, Any]:
    """Every machine's current state with its lost-data ranges and the number of its events
    held for review, plus store totals."""
    gaps: dict[str, list[SeqGap]] = {}
    for gap in reader.gaps():
        gaps.setdefault(gap.machine, []).append(gap)
    held = reader.quarantine_counts()
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
                "quarantined": held.get(s.machine, 0),
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
        "quarantined": getattr(result, "quarantined", 0),
    }
