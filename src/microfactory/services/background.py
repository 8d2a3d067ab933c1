"""A daemon thread poked into work: what the server does off the request (applying stored
events, serving replans, writing the audit log) without a thread per request or a thread that
outlives its use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    """One daemon thread that runs `job` each time it is poked, and ends by itself after
    `idle_s` without a poke (started again by the next poke): a server that no one uses, or
    a test's app that is thrown away, keeps no thread."""

    def __init__(self, name: str, job: Callable[[], None], idle_s: float) -> None:
        self.name = name
        self.job = job
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.failures = 0
        self.last_error = ""

    def poke(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            if not self._wake.wait(self.idle_s):
                with self._lock:  # a poke after the wait timed out sees no thread: starts one
                    if not self._wake.is_set():
                        self._thread = None
                        return
            with self._lock:
                if self._closed:
                    self._thread = None
                    return
            self._wake.clear()
            try:
                self.job()
            except Exception as exc:  # retried at the next poke; said, never swallowed
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("%s failed; retrying at the next event", self.name)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: float) -> None:
        """No more runs: the thread ends after the job it is running, if any, and this
        waits for it (at most `timeout` seconds). Shutdown calls it before the stores the
        job uses are closed: a job that ran on after them would open a connection that
        nobody closes."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def join(self, timeout: float) -> None:
        """Wait until the thread has ended (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
