"""Shift calendars: when a machine may work. Weekly shifts plus dated unavailability windows
(maintenance, holidays). The scheduler asks for the working windows inside a horizon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from microfactory.core.timeutil import zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end) in aware UTC."""

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window start and end must be timezone-aware")
        if not self.end > self.start:
            raise ValueError("window end must be after its start")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Shift:
    """A daily shift on some weekdays, e.g. mon–fri 06:00–22:00. `end` <= `start` wraps midnight."""

    days: tuple[str, ...]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("a shift needs at least one weekday")
        for day in self.days:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
        if len(set(self.days)) != len(self.days):
            raise ValueError("a shift lists a weekday twice")

    @property
    def length(self) -> timedelta:
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        if end <= start:
            end += timedelta(days=1)
        return end - start


@dataclass(frozen=True)
class ShiftCalendar:
    """Weekly shifts (empty = always available) and dated unavailability windows. Shift
    times are wall-clock times of the site's `timezone` (an IANA name): a 06:00 shift in
    Europe/Berlin starts at 05:00 UTC in winter and 04:00 UTC in summer."""

    shifts: tuple[Shift, ...] = ()
    unavailable: tuple[Window, ...] = field(default_factory=tuple)
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)

    @property
    def always_on(self) -> bool:
        return not self.shifts

    def with_unavailable(self, window: Window) -> ShiftCalendar:
        return ShiftCalendar(self.shifts, (*self.unavailable, window), self.timezone)

    def working_windows(self, start: datetime, end: datetime) -> list[Window]:
        """The merged working windows inside [start, end), minus unavailability."""
        if end <= start:
            return []
        if self.always_on:
            raw = [(start, end)]
        else:
            raw = []
            tz = zone(self.timezone)
            day = start.astimezone(tz).date() - timedelta(days=1)
            while datetime.combine(day, time(0), tzinfo=tz) < end:
                weekday = WEEKDAYS[day.weekday()]
                for shift in self.shifts:
                    if weekday in shift.days:
                        local = datetime.combine(day, shift.start, tzinfo=tz)
                        s = local.astimezone(UTC)
                        e = (local + shift.length).astimezone(UTC)
                        lo, hi = max(s, start), min(e, end)
                        if hi > lo:
                            raw.append((lo, hi))
                day += timedelta(days=1)
        merged = _merge(raw)
        for window in self.unavailable:
            merged = _subtract(merged, (window.start, window.end))
        return [Window(s, e) for s, e in merged]

    def available_seconds(self, start: datetime, end: datetime) -> float:
        return sum(w.seconds for w in self.working_windows(start, end))

    def is_working(self, when: datetime) -> bool:
        return any(
            w.start <= when < w.end for w in self.working_windows(when, when + timedelta(seconds=1))
        )


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(
    intervals: list[tuple[datetime, datetime]], cut: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    cs, ce = cut
    out: list[tuple[datetime, datetime]] = []
    for s, e in intervals:
        if ce <= s or cs >= e:
            out.append((s, e))
            continue
        if s < cs:
            out.append((s, cs))
        if ce < e:
            out.append((ce, e))
    return out
