"""Split a machine's stream of states and sensor samples into lives, online.

A life starts when the machine is new or renewed (after a repair or a maintenance) and ends
at a breakdown (a failed life: run to failure) or when maintenance begins (a censored life).
Samples taken while the machine is down are not part of any life. Run time counts only the
time spent processing, since that is when a machine wears.

Feed `state` and `sample` in time order; `completed` holds the finished lives and
`current()` the life in progress.
"""

from __future__ import annotations

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
        self._hours: list[float] = []
        self._values: list[list[float]] = []
        self._running: list[bool] = []
        self._alive = True
        self._processing_since: datetime | None = None
        self._run_hours = 0.0
        self._last: datetime | None = None
        self.failures = 0

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
        self._hours.append(self._hours_at(ts))
        self._values.append([float(values[name]) for name in self.signal_names])
        self._running.append(self._processing_since is not None)
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
        self._hours, self._values, self._running = [], [], []
        self._processing_since = None

    @property
    def alive(self) -> bool:
        """False between a breakdown (or the start of a maintenance) and the renewal."""
        return self._alive

    def current(self) -> SignalHistory:
        """The life in progress (empty while the machine is down)."""
        k = len(self.signal_names)
        return SignalHistory(
            self.signal_names,
            np.asarray(self._hours, dtype=np.float64),
            np.asarray(self._values, dtype=np.float64).reshape(-1, k),
            np.asarray(self._running, dtype=np.bool_),
        )
