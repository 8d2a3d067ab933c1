"""Split a machine's stream of states and sensor samples into lives, online.

A life starts when the machine is new or renewed (after a repair or a maintenance) and ends
at a breakdown (a failed life: run to failure) or when maintenance begins (a censored life).
Samples taken while the machine is down are not part of any life. Run time counts only the
time spent processing, since that is when a machine wears.

Feed `state` and `sample` in time order; `completed` holds the finished lives and
`current()` the life in progress.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import numpy as np

from microfactory.core import ValidationError
from microfactory.maintenance.health import Life, SignalHistory

FAILURE_PREFIX = "breakdown"
MAINTENANCE_PREFIX = "pm:"
RENEWAL_REASONS = ("repaired", "pm_done:")


class LifeTracker:
    """Lives of one machine that reports the signals `signal_names`."""

    def __init__(self, signal_names: tuple[str, ...]) -> None:
        if not signal_names:
            raise ValidationError("a machine needs at least one signal")
        self.signal_names = signal_names
        self.completed: list[Life] = []
        self._reset_buffers()
        self._alive = True
        self._processing_since: datetime | None = None
        self._run_hours = 0.0
        self._last: datetime | None = None
        self.failures = 0

    def _reset_buffers(self, capacity: int = 1024) -> None:
        # Growable arrays (capacity doubles): appending is amortised O(1) and `current()`
        # returns views, so scoring a long life every hour costs no copy.
        k = len(self.signal_names)
        self._n = 0
        self._hours = np.empty(capacity, dtype=np.float64)
        self._values = np.empty((capacity, k), dtype=np.float64)
        self._running = np.empty(capacity, dtype=np.bool_)

    def _append(self, hours: float, row: list[float], running: bool) -> None:
        if self._n == len(self._hours):
            size = 2 * len(self._hours)
            self._hours = np.resize(self._hours, size)
            self._values = np.resize(self._values, (size, len(self.signal_names)))
            self._running = np.resize(self._running, size)
        self._hours[self._n] = hours
        self._values[self._n] = row
        self._running[self._n] = running
        self._n += 1

    def _check_time(self, ts: datetime) -> None:
        if self._last is not None and ts < self._last:
            raise ValidationError(f"events out of order: {ts} after {self._last}")
        self._last = ts

    def _hours_at(self, ts: datetime) -> float:
        if self._processing_since is None:
            return self._run_hours
        return self._run_hours + (ts - self._processing_since).total_seconds() / 3600.0

    def state(self, ts: datetime, processing: bool, reason: str | None = None) -> None:
        """A state change: processing or not, with the machine's reason code."""
        self._check_time(ts)
        self._run_hours = self._hours_at(ts)
        self._processing_since = ts if processing else None
        why = reason or ""
        if why.startswith(FAILURE_PREFIX):
            self._close(failed=True)
        elif why.startswith(MAINTENANCE_PREFIX):
            self._close(failed=False)
        elif why.startswith(RENEWAL_REASONS) and not self._alive:
            self._alive = True
            self._run_hours = 0.0
            self._processing_since = ts if processing else None

    def sample(self, ts: datetime, values: Mapping[str, float]) -> bool:
        """One row of readings taken at `ts`; False (ignored) when a signal is missing or
        the machine is down."""
        self._check_time(ts)
        if not self._alive or any(name not in values for name in self.signal_names):
            return False
        row = [float(values[name]) for name in self.signal_names]
        if not all(math.isfinite(v) for v in row):
            return False
        self._append(self._hours_at(ts), row, self._processing_since is not None)
        return True

    def _close(self, *, failed: bool) -> None:
        if not self._alive:
            return
        history = self.current()
        if history.n_samples:
            self.completed.append(Life(history, failed))
        if failed:
            self.failures += 1
        self._alive = False
        self._reset_buffers()
        self._processing_since = None

    @property
    def alive(self) -> bool:
        """False between a breakdown (or the start of a maintenance) and the renewal."""
        return self._alive

    @property
    def n_samples(self) -> int:
        """Samples in the life in progress."""
        return self._n

    def current(self) -> SignalHistory:
        """The life in progress (empty while the machine is down); views, not copies."""
        n = self._n
        return SignalHistory(
            self.signal_names, self._hours[:n], self._values[:n], self._running[:n]
        )
