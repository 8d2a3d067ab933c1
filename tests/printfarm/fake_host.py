"""An in-memory `PrinterHost` for unit tests only. It passes the same contract tests as the
OctoPrint adapter against a real OctoPrint (test_host_contract.py).

A started job runs on the wall clock: `seconds_per_move` per G0/G1 line of its G-code. Tests
that want a fixed outcome call `finish()` or `fail(message)`; `reachable` and `key` simulate an
unreachable host and a refused API key.
"""

from __future__ import annotations

import threading
import time

from microfactory.core.errors import Conflict, ConnectorError, NotFound
from microfactory.shopfloor.printers import HostState, PrinterStatus, Temperature


class FakePrinterHost:
    def __init__(
        self,
        name: str = "fake://printer",
        *,
        key: str = "key",
        given_key: str = "key",
        seconds_per_move: float = 0.5,
    ) -> None:
        self._name = name
        self.key = key
        self.given_key = given_key
        self.reachable = True
        self.connected = True
        self.seconds_per_move = seconds_per_move
        self.stored: dict[str, bytes] = {}
        self.started: list[str] = []
        self._lock = threading.Lock()
        self._job: str | None = None
        self._duration = 0.0
        self._started_at = 0.0
        self._paused_at: float | None = None
        self._ended: tuple[float, bool] | None = None  # (progress, done)
        self._error = ""
        self.upload_fails = False

    @property
    def name(self) -> str:
        return self._name

    def _check(self) -> None:
        if not self.reachable:
            raise ConnectorError(f"fake host {self._name} is unreachable")
        if self.given_key != self.key:
            raise ConnectorError(f"fake host {self._name} refused the API key (HTTP 403)")

    def _progress(self, now: float) -> float:
        if self._duration <= 0:
            return 100.0
        ran = (self._paused_at or now) - self._started_at
        return min(100.0, 100.0 * ran / self._duration)

    def _tick(self) -> None:
        running = self._job is not None and self._ended is None and self._paused_at is None
        if running and self._progress(time.monotonic()) >= 100.0:
            self._ended = (100.0, True)

    def status(self) -> PrinterStatus:
        self._check()
        with self._lock:
            if not self.connected:
                return PrinterStatus(HostState.OFFLINE, message="Offline")
            if self._error:
                return PrinterStatus(HostState.ERROR, self._job, message=self._error)
            self._tick()
            temps = (Temperature("bed", 60.0, 60.0), Temperature("tool0", 215.0, 215.0))
            if self._job is None:
                return PrinterStatus(HostState.IDLE, temperatures=temps)
            if self._ended is not None:
                progress, _ = self._ended
                return PrinterStatus(HostState.IDLE, self._job, progress, 0, None, temps)
            now = time.monotonic()
            progress = self._progress(now)
            left = int(self._duration * (1 - progress / 100))
            ran = int((self._paused_at or now) - self._started_at)
            state = HostState.PAUSED if self._paused_at is not None else HostState.PRINTING
            return PrinterStatus(state, self._job, progress, left, ran, temps)

    def _busy(self) -> bool:
        self._tick()
        return self._job is not None and self._ended is None

    def upload(self, name: str, gcode: bytes, *, start: bool = False) -> str:
        self._check()
        with self._lock:
            if self.upload_fails:
                raise ConnectorError(f"upload of {name} to fake host {self._name} failed")
            if self._busy() and self._job == name:
                raise Conflict(f"fake host {self._name}: {name} is printing")
            self.stored[name] = bytes(gcode)
        if start:
            self.start(name)
        return name

    def start(self, name: str) -> None:
        self._check()
        with self._lock:
            if name not in self.stored:
                raise NotFound(f"fake host {self._name} has no file {name}")
            if self._busy() or not self.connected or self._error:
                raise Conflict(f"fake host {self._name} is busy (HTTP 409)")
            moves = sum(
                1 for line in self.stored[name].splitlines() if line.startswith((b"G0", b"G1"))
            )
            self._job = name
            self._duration = moves * self.seconds_per_move
            self._started_at = time.monotonic()
            self._paused_at = None
            self._ended = None
            self.started.append(name)

    def pause(self) -> None:
        self._check()
        with self._lock:
            if not self._busy() or self._paused_at is not None:
                raise Conflict(f"fake host {self._name}: nothing is printing")
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        self._check()
        with self._lock:
            if self._paused_at is None or not self._busy():
                raise Conflict(f"fake host {self._name}: nothing is paused")
            self._started_at += time.monotonic() - self._paused_at
            self._paused_at = None

    def cancel(self) -> None:
        self._check()
        with self._lock:
            if not self._busy():
                raise Conflict(f"fake host {self._name}: no job to cancel")
            self._ended = (self._progress(time.monotonic()), False)
            self._paused_at = None

    def files(self) -> list[str]:
        self._check()
        with self._lock:
            return sorted(self.stored)

    def remove(self, name: str) -> None:
        self._check()
        with self._lock:
            if name not in self.stored:
                raise NotFound(f"fake host {self._name} has no file {name}")
            if self._busy() and self._job == name:
                raise Conflict(f"fake host {self._name}: {name} is printing")
            del self.stored[name]

    # -- test controls --

    def finish(self) -> None:
        """End the running job at 100 % now."""
        with self._lock:
            if self._job is not None:
                self._ended = (100.0, True)
                self._paused_at = None

    def fail(self, message: str = "MAXTEMP triggered!") -> None:
        """The printer errors out (the job is lost)."""
        with self._lock:
            self._error = message

    def recover(self) -> None:
        with self._lock:
            if self._error:
                self._error = ""
                if self._job is not None and self._ended is None:
                    self._ended = (self._progress(time.monotonic()), False)
