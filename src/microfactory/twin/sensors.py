"""Sensor plumbing of the twin: the step functions of busy flag and wear a machine leaves
behind, and the hourly batch of 1-minute samples kept as its wire JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from microfactory.core.timeutil import to_rfc3339
from microfactory.shopfloor.events import SampleBatch, parse_event


def minute_stamps(start: datetime, n: int) -> list[str]:
    """RFC 3339 stamps of `n` consecutive minutes from `start` (fast path on whole hours)."""
    if start.minute == 0 and start.second == 0 and start.microsecond == 0 and n <= 60:
        prefix = start.strftime("%Y-%m-%dT%H:")
        return [f"{prefix}{k:02d}:00Z" for k in range(n)]
    return [to_rfc3339(start + timedelta(minutes=k)) for k in range(n)]


@dataclass(frozen=True)
class WireSampleBatch:
    """A batch of 1-minute sensor samples, kept as its wire JSON: a sensor gateway writes the
    payload directly instead of building one object per reading. `to_json()` is exactly the
    `SampleBatch` schema (`parse_event` reads it back); `parsed()` gives the model."""

    event_id: str
    machine: str
    seq: int
    ts: datetime
    samples_json: str
    count: int
    kind: str = "sample"

    def to_json(self) -> bytes:
        return (
            f'{{"v":1,"event_id":"{self.event_id}","machine":"{self.machine}",'
            f'"seq":{self.seq},"ts":"{to_rfc3339(self.ts)}","kind":"sample",'
            f'"samples":{self.samples_json}}}'
        ).encode()

    def parsed(self) -> SampleBatch:
        event = parse_event(self.to_json())
        assert isinstance(event, SampleBatch)
        return event


@dataclass
class Trace:
    """Step functions of busy flag and wear, for the sensor process."""

    times: list[float] = field(default_factory=lambda: [0.0])
    busy: list[bool] = field(default_factory=lambda: [False])
    wear: list[float] = field(default_factory=lambda: [0.0])

    def record(self, t: float, busy: bool, wear: float) -> None:
        if t == self.times[-1]:
            self.busy[-1], self.wear[-1] = busy, wear
        else:
            self.times.append(t)
            self.busy.append(busy)
            self.wear.append(wear)

    def window(self, t0: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        minutes = t0 + np.arange(n, dtype=float)
        idx = np.searchsorted(np.asarray(self.times), minutes, side="right") - 1
        busy = np.asarray(self.busy)[idx]
        wear = np.asarray(self.wear)[idx]
        keep = max(0, int(idx[-1]) - 0)
        del self.times[:keep], self.busy[:keep], self.wear[:keep]
        return busy, wear
