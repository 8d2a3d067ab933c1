"""Edge publisher with store-and-forward and end-to-end acknowledgement.

Every event is first appended to a local SQLite buffer (the outbox), then a forwarder thread
sends the buffer in order over the bus. An entry is deleted only when the *store* has it: each
message carries a receipt request (MQTT v5 Response Topic = this edge's receipt topic,
Correlation Data = a token naming the outbox row), and the ingester publishes a receipt after
the commit that handled it (stored, a duplicate, dead-lettered or held for review); see
`microfactory.shopfloor.receipts`. A broker's acknowledgement is not enough: a broker that
crashes loses what it acknowledged but had not saved yet. Each token names the row and the copy
(its place in the send order), so a receipt says which copy arrived. What goes again (the store
deduplicates): at once, every entry whose latest copy went out before a copy the store has
confirmed (one sender's messages reach the store in order, so that copy was lost on the way,
or its receipt was); and,
when nothing at all was confirmed for `resend_after_s` (doubling up to `max_resend_after_s`;
time without a connection does not count), the oldest chunk as a probe — a consumer that is
merely away is not flooded with copies. At most `max_unconfirmed` entries are in flight.

When the broker is unreachable, events stay in the buffer and go out, still in order, after
reconnect; a crash of the edge process loses nothing either (the buffer is a WAL-mode SQLite
file): what was in flight is sent again. `confirm="broker"` restores the weaker old behaviour
(delete once the broker acknowledged a chunk) for consumers that send no receipts.

Bounded-size policy: the buffer holds at most `max_events`. When it is full, the oldest
*sample batches* are dropped first (sensor data is the bulkiest and the least valuable when
stale); only when no samples are left are the oldest other events dropped. Every drop is
counted (`dropped`), and, since each event keeps its sequence number, the ingester reports the
dropped range as a sequence gap: the loss is visible downstream, never silent.

The buffer also hands out per-machine sequence numbers (`next_seq`) that survive restarts.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from microfactory.connect.bus import Bus, Message
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.receipts import parse_receipt, receipt_topic
from microfactory.shopfloor.topics import ROOT, topic_for

log = logging.getLogger("microfactory.edge")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    is_sample INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_sample ON outbox (is_sample, id);
CREATE TABLE IF NOT EXISTS seqs (machine TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS names (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Buffered:
    id: int
    topic: str
    payload: bytes


class EdgeBuffer:
    """A bounded, persistent FIFO of (topic, payload) in one SQLite file. Thread-safe."""

    def __init__(self, path: str | Path, *, max_events: int = 1_000_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.path = Path(path)
        self.max_events = max_events
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def put(self, topic: str, payload: bytes, *, is_sample: bool = False) -> None:
        self.put_many([(topic, payload, is_sample)])

    def put_many(self, items: list[tuple[str, bytes, bool]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox (topic, payload, is_sample) VALUES (?, ?, ?)",
                    [(t, p, int(s)) for t, p, s in items],
                )
                self._count += len(items)
                excess = self._count - self.max_events
                if excess > 0:
                    self._drop(excess)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
                raise

    def _drop(self, excess: int) -> None:
        dropped = self._db.execute(
            "DELETE FROM outbox WHERE id IN "
            "(SELECT id FROM outbox WHERE is_sample = 1 ORDER BY id LIMIT ?)",
            (excess,),
        ).rowcount
        if dropped < excess:
            dropped += self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                (excess - dropped,),
            ).rowcount
        self._count -= dropped
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            (dropped,),
        )

    def peek(self, limit: int) -> list[Buffered]:
        """The oldest `limit` entries, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Buffered(int(i), str(t), bytes(p)) for i, t, p in rows]

    def peek_from(self, first_id: int, limit: int) -> list[Buffered]:
        """Up to `limit` entries with id >= `first_id`, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox WHERE id >= ? ORDER BY id LIMIT ?",
                (first_id, limit),
            ).fetchall()
        return [Buffered(int(i), str(t), bytes(p)) for i, t, p in rows]

    def rows(self, ids: list[int]) -> list[Buffered]:
        """The entries with these ids that are still buffered, in id order."""
        found: list[Buffered] = []
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                found += [
                    Buffered(int(r), str(t), bytes(p))
                    for r, t, p in self._db.execute(
                        f"SELECT id, topic, payload FROM outbox WHERE id IN ({marks})", chunk
                    )
                ]
        return sorted(found, key=lambda b: b.id)

    def remove_through(self, last_id: int) -> None:
        """Forget every entry up to and including `last_id` (they were acknowledged)."""
        with self._lock:
            removed = self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,)).rowcount
            self._count -= removed

    def remove_ids(self, ids: list[int]) -> int:
        """Forget these entries (the store confirmed them); return how many were still here."""
        if not ids:
            return 0
        removed = 0
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                removed += self._db.execute(
                    f"DELETE FROM outbox WHERE id IN ({marks})", chunk
                ).rowcount
            self._count -= removed
        return removed

    @property
    def edge_id(self) -> str:
        """A stable id of this buffer (made on first use, kept in the file): the edge's name
        in its receipt topic."""
        with self._lock:
            self._db.execute(
                "INSERT INTO names (key, value) VALUES ('edge_id', ?) ON CONFLICT (key) DO NOTHING",
                (f"edge-{os.urandom(6).hex()}",),
            )
            row = self._db.execute("SELECT value FROM names WHERE key = 'edge_id'").fetchone()
        return str(row[0])

    def next_seq(self, machine: str) -> int:
        """The next sequence number of `machine` (0, 1, 2, ...), persisted."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO seqs (machine, next_seq) VALUES (?, 1) "
                "ON CONFLICT (machine) DO UPDATE SET next_seq = next_seq + 1 "
                "RETURNING next_seq",
                (machine,),
            ).fetchone()
        return int(row[0]) - 1

    @property
    def dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return 0 if row is None else int(row[0])

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        with self._lock:
            self._db.close()


class EdgePublisher:
    """Publishes events through an `EdgeBuffer` to a bus, forwarding on a background thread.

    `confirm="store"` (default): delete an entry on the ingester's receipt (end-to-end);
    `confirm="broker"`: delete once the broker acknowledged it (loses what a crashing broker
    had not saved). `edge_id` (default: the buffer's own) names the receipt topic."""

    def __init__(
        self,
        bus: Bus,
        buffer: EdgeBuffer,
        *,
        site: str,
        area: str,
        root: str = ROOT,
        chunk: int = 500,
        confirm: Literal["store", "broker"] = "store",
        edge_id: str | None = None,
        resend_after_s: float = 15.0,
        max_resend_after_s: float = 300.0,
        max_unconfirmed: int = 10_000,
    ) -> None:
        if confirm not in ("store", "broker"):
            raise ValueError("confirm must be 'store' or 'broker'")
        if resend_after_s <= 0 or max_unconfirmed < 1 or chunk < 1:
            raise ValueError("resend_after_s, max_unconfirmed and chunk must be positive")
        self.bus = bus
        self.buffer = buffer
        self.site, self.area, self.root = site, area, root
        self.chunk = chunk
        self.confirm = confirm
        self.edge_id = edge_id or buffer.edge_id
        self.receipt_topic = receipt_topic(site, self.edge_id, root)
        self.resend_after_s = resend_after_s
        self.max_resend_after_s = max(max_resend_after_s, resend_after_s)
        self.max_unconfirmed = max_unconfirmed
        self.sent = 0  # messages handed to the bus (re-sends included)
        self.confirmed = 0  # entries deleted on a receipt (or on the broker's ack)
        self.resent = 0  # entries sent again for want of a receipt
        self.bad_receipts = 0
        self._epoch = os.urandom(8)  # tokens of this run: stale or forged receipts do not match
        # rows sent and not confirmed: buffer id -> the stamp (place in the send order) of its
        # latest copy; and the send order itself (stamp, id, when), oldest first. A token names
        # the row and the copy, so a receipt says exactly which copy reached the store.
        self._flight_lock = threading.Lock()
        self._in_flight: dict[int, int] = {}
        self._order: deque[tuple[int, int, float]] = deque()
        self._sends = 0
        self._max_confirmed = 0  # the latest stamp the store confirmed
        self._last_progress = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        if confirm == "store":
            bus.subscribe(self.receipt_topic, self._on_receipt)
        target = self._forward_confirmed if confirm == "store" else self._forward
        self._thread = threading.Thread(target=target, name="edge-forwarder", daemon=True)
        self._thread.start()

    def publish(self, event: Event) -> None:
        topic = topic_for(self.site, self.area, event.machine, event.kind, self.root)
        self.buffer.put(topic, event.to_json(), is_sample=event.kind == "sample")
        self._wake.set()

    def publish_many(self, events: list[Event]) -> None:
        self.buffer.put_many(
            [
                (
                    topic_for(self.site, self.area, e.machine, e.kind, self.root),
                    e.to_json(),
                    e.kind == "sample",
                )
                for e in events
            ]
        )
        self._wake.set()

    # end-to-end: delete on the store's receipt --------------------------------------------------
    def _token(self, row_id: int, stamp: int) -> bytes:
        return self._epoch + row_id.to_bytes(8, "big") + stamp.to_bytes(8, "big")

    def _on_receipt(self, message: Message) -> None:
        try:
            tokens = parse_receipt(message.payload)
        except ValidationError as exc:
            self.bad_receipts += 1
            log.warning("ignoring a bad receipt on %s: %s", message.topic, exc)
            tokens = []
        epoch = self._epoch
        mine = [t for t in tokens if len(t) == 24 and t[:8] == epoch]
        ids = [int.from_bytes(t[8:16], "big") for t in mine]
        with self._flight_lock:
            for row_id in ids:
                self._in_flight.pop(row_id, None)
            stamps = [int.from_bytes(t[16:], "big") for t in mine]
            self._max_confirmed = max([self._max_confirmed, *stamps])
        removed = self.buffer.remove_ids(ids)
        if removed:
            self.confirmed += removed
            self._last_progress = time.monotonic()
        self.bus.ack(message)  # after the delete: a crash in between means the receipt again
        self._wake.set()

    def _send(self, rows: list[Buffered]) -> int:
        """Publish rows with receipt requests, stamping each with its place in the send order;
        return how many went out."""
        done = 0
        try:
            for row in rows:
                with self._flight_lock:
                    self._sends += 1
                    stamp = self._sends
                    self._in_flight[row.id] = stamp
                    self._order.append((stamp, row.id, time.monotonic()))
                self.bus.publish(
                    row.topic,
                    row.payload,
                    reply_to=self.receipt_topic,
                    correlation=self._token(row.id, stamp),
                )
                done += 1
                self.sent += 1
        except ConnectorError as exc:
            log.warning("edge publish failed: %s", exc)
        return done

    def _overdue(self, patience: float, since: float) -> tuple[list[int], bool]:
        """Rows to send again: those whose latest copy went out before a copy the store has
        confirmed (the store receives one sender's messages in order, so that copy was lost on
        the way, or its receipt was); else, when nothing was confirmed for `patience`, the
        oldest chunk as a probe (True: a probe). Superseded entries leave the send order."""
        now = time.monotonic()
        with self._flight_lock:
            order, flight = self._order, self._in_flight
            while order and flight.get(order[0][1]) != order[0][0]:
                order.popleft()
            limit = self._max_confirmed
            skipped = [
                rid
                for stamp, rid, _ in itertools.takewhile(lambda e: e[0] < limit, order)
                if flight.get(rid) == stamp
            ]
            if skipped:
                return skipped, False
            if order and now - max(order[0][2], since) > patience:
                current = (rid for stamp, rid, _ in order if flight.get(rid) == stamp)
                return list(itertools.islice(current, self.chunk)), True
        return [], False

    def _forward_confirmed(self) -> None:
        cursor = 0  # the next buffer id never sent in this run
        patience = self.resend_after_s
        since = time.monotonic()  # connected / progress: the probe timer counts from here
        progress = self._last_progress
        while not self._stop.is_set():
            if not self.bus.connected:
                self._wake.wait(0.2)
                self._wake.clear()
                since = time.monotonic()  # time without a connection does not count
                continue
            if self._last_progress != progress:  # receipts flow: back to normal patience
                progress = self._last_progress
                since = max(since, progress)
                patience = self.resend_after_s
            again, probe = self._overdue(patience, since)
            if again:
                rows = self.buffer.rows(again)
                with self._flight_lock:  # rows no longer buffered (dropped): forget them
                    for gone in set(again) - {r.id for r in rows}:
                        self._in_flight.pop(gone, None)
                if probe:
                    log.info(
                        "no receipt for %.0f s: sending the oldest %d again", patience, len(rows)
                    )
                    patience = min(patience * 2, self.max_resend_after_s)
                    since = time.monotonic()
                self.resent += self._send(rows)
                continue
            room = self.max_unconfirmed - len(self._in_flight)
            rows = self.buffer.peek_from(cursor, min(self.chunk, room)) if room > 0 else []
            if not rows:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            sent = self._send(rows)
            if sent:
                cursor = rows[sent - 1].id + 1

    # broker acknowledgement only -------------------------------------------------------------
    def _forward(self) -> None:
        while not self._stop.is_set():
            rows = self.buffer.peek(self.chunk)
            if not rows or not self.bus.connected:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            try:
                for row in rows:
                    self.bus.publish(row.topic, row.payload)
            except ConnectorError:
                continue
            while not self.bus.flush(1.0):
                if self._stop.is_set():
                    return
            self.buffer.remove_through(rows[-1].id)
            self.sent += len(rows)
            self.confirmed += len(rows)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until everything buffered has been confirmed (by the store's receipts, or with
        `confirm="broker"` by the broker)."""
        deadline = time.monotonic() + timeout
        while len(self.buffer) > 0 and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        return len(self.buffer) == 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)
