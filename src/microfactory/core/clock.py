"""Clock and random-generator ports. Nothing reads the wall clock or a global RNG directly:
a `Clock` is passed in (SystemClock in production, FixedClock / the twin's clock in tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, simulation)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a clock does not run backwards")
        self._now += delta

    def set(self, when: datetime) -> None:
        if when.astimezone(UTC) < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = when.astimezone(UTC)
