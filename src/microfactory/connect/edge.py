"""Edge publisher with store-and-forward.

Every event is first appended to a local SQLite buffer (the outbox), then a forwarder thread
sends the buffer in order over the bus and deletes a chunk only after the broker has
acknowledged all of it. When the broker is unreachable, events stay in the buffer and go out,
still in order, after reconnect; a crash of the edge process loses nothing either (the buffer
is a WAL-mode SQLite file), at worst a chunk is sent twice, which ingestion deduplicates.

Bounded-size policy: the buffer holds at most `max_events`. When it is full, the oldest
*sample batches* are dropped first (sensor data is the bulkiest and the least valuable when
stale); only when no samples are left are the oldest other events dropped. Every drop is
counted (`dropped`), and, since each event keeps its sequence number, the ingester reports the
dropped range as a sequence gap: the loss is visible downstream, never silent.

The buffer also hands out per-machine sequence numbers (`next_seq`) that survive restarts.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from microfactory.connect.bus import Bus
from microfactory.core.errors import ConnectorError
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.topics import ROOT, topic_for

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

    def remove_through(self, last_id: int) -> None:
        """Forget every entry up to and including `last_id` (they were acknowledged)."""
        with self._lock:
            removed = self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,)).rowcount
            self._count -= removed

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
    """Publishes events through an `EdgeBuffer` to a bus, forwarding on a background thread."""

    def __init__(
        self,
        bus: Bus,
        buffer: EdgeBuffer,
        *,
        site: str,
        area: str,
        root: str = ROOT,
        chunk: int = 500,
    ) -> None:
        self.bus = bus
        self.buffer = buffer
        self.site, self.area, self.root = site, area, root
        self.chunk = chunk
        self.sent = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._forward, name="edge-forwarder", daemon=True)
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

    def wait_empty(self, timeout: float) -> bool:
        """Wait until everything buffered has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while len(self.buffer) > 0 and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        return len(self.buffer) == 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)
