"""A named lock held across every process that shares one database: planning takes it, so a
`plan` on the command line, the API's re-plan and the runtime's re-plans never interleave
(two at once made the second die on a duplicate work order or plan version).

* PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
  own; the server frees it if the process dies.
* SQLite file: an exclusive `flock` on a lock file next to the database (`FILE.NAME.lock`);
  the kernel frees it if the process dies. (SQLite's own write lock is not used: holding it
  through a solve would stop every other writer, the ingester included.)
* In-memory SQLite or anything else: a lock in this process only (one process is all there
  can be).

Reentrant per thread, and serialised between threads of one process before the database
is asked."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text

from microfactory.core.errors import Conflict

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the in-process lock alone
    fcntl = None  # type: ignore[assignment]

PLANNING_LOCK = "microfactory.planning"

_PROCESS_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_GUARD = threading.Lock()
POLL_S = 0.05


def _process_lock(engine: Engine, name: str) -> threading.RLock:
    key = (str(engine.url), name)
    with _GUARD:
        return _PROCESS_LOCKS.setdefault(key, threading.RLock())


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class DatabaseLock:
    """`with lock.hold(wait_s):` — Conflict when another process holds it for `wait_s`
    seconds (None: wait as long as it takes)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._local = threading.local()

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @contextmanager
    def hold(self, wait_s: float | None = None) -> Iterator[None]:
        if self._depth():  # this thread holds it already
            self._local.depth = self._depth() + 1
            try:
                yield
            finally:
                self._local.depth = self._depth() - 1
            return
        deadline = None if wait_s is None else time.monotonic() + wait_s
        local = _process_lock(self.engine, self.name)
        if not local.acquire(timeout=-1 if wait_s is None else max(wait_s, 0.0)):
            raise self._busy()
        try:
            with self._across_processes(deadline):
                self._local.depth = 1
                try:
                    yield
                finally:
                    self._local.depth = 0
        finally:
            local.release()

    def _busy(self) -> Conflict:
        return Conflict(f"{self.name} is busy in another process; try again when it has finished")

    def _across_processes(self, deadline: float | None) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return self._advisory(deadline)
        database = self.engine.url.database or ""
        on_disk = database not in ("", ":memory:") and not database.startswith("file:")
        if dialect == "sqlite" and on_disk and fcntl is not None:
            return self._flock(f"{database}.{self.name}.lock", deadline)
        return _nothing()

    def _wait(self, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise self._busy()
        time.sleep(POLL_S)

    @contextmanager
    def _advisory(self, deadline: float | None) -> Iterator[None]:
        key = advisory_key(self.name)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                self._wait(deadline)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    @contextmanager
    def _flock(self, path: str, deadline: float | None) -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    self._wait(deadline)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
