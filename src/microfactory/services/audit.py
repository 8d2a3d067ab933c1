"""The audit log: one record per state-changing call (who, what, when, outcome), written by
the API for every POST / PUT / PATCH / DELETE whatever its outcome (outcome = HTTP status),
and by the CLI for user and token changes (actor `cli:<OS user>`, role `cli`, action
`cli users ...`, outcome = exit code, 0 when done); readable by admins. Times are the wall
clock's, whatever the shop's clock says.

In the server (`background=True`) a record is handed to one writer thread, which stores
every record handed over since its last run in one transaction (group commit): fifty operators
each pressing a button a second make a few audit transactions a second instead of fifty, each
waiting for the database's one writer. The writer runs at once when poked, so a record is
stored milliseconds after its call; reading the log (`find`, `count`) and `close` store what
is still waiting first, and a failed write keeps the records for the next run, said in the
log."""

from __future__ import annotations

import threading

from microfactory.access import AuditRecord
from microfactory.core.clock import Clock
from microfactory.services.background import Worker
from microfactory.services.ports import AuditStore


class AuditLog:
    def __init__(
        self, store: AuditStore, clock: Clock, *, background: bool = False, idle_s: float = 5.0
    ) -> None:
        self.store = store
        self.clock = clock
        self._pending: list[AuditRecord] = []
        self._lock = threading.Lock()  # the pending list
        self._writing = threading.Lock()  # one write at a time, in the order recorded
        self._writer = Worker("audit-writer", self._write, idle_s) if background else None

    @property
    def background(self) -> bool:
        """Whether `record` only hands the record over (cheap enough for an event loop)."""
        return self._writer is not None

    def record(
        self, actor: str, role: str, action: str, outcome: int, detail: str = ""
    ) -> AuditRecord:
        rec = AuditRecord(
            at=self.clock.now(),
            actor=(actor or "anonymous")[:64],
            role=(role or "-")[:20],
            action=action[:300],
            outcome=outcome,
            detail=detail[:2000],
        )
        if self._writer is None or self._writer.closed:
            self.store.append(rec)
            return rec
        with self._lock:
            self._pending.append(rec)
        self._writer.poke()
        if self._writer.closed:  # closed meanwhile: the writer will not run again
            self.flush()
        return rec

    def flush(self) -> int:
        """Store the records still waiting, in one transaction; how many. On failure they
        wait for the next flush (and the error is raised)."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                self.store.append_many(batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
            return len(batch)

    def _write(self) -> None:
        self.flush()

    @property
    def waiting(self) -> int:
        """Records handed over and not stored yet."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Store what waits (shutdown); records made after this are stored at once."""
        if self._writer is not None:
            self._writer.close(10.0)
        self.flush()

    def find(
        self, *, actor: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditRecord]:
        self.flush()
        return self.store.find(actor=actor, limit=limit, offset=offset)

    def count(self, *, actor: str | None = None) -> int:
        self.flush()
        return self.store.count(actor=actor)
