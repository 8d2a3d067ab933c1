"""A simple promise-date rule for when no live plan is consulted: the line's machine hours
are spread over the eligible machines' daily hours at the share of capacity kept free for
new work, finishing and handling days are added, and weekends are skipped.

It knows nothing of the queue already on the machines; the capable-to-promise service does,
and its date replaces this one when the plan is available."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from microfactory.core.timeutil import utc


@dataclass(frozen=True)
class LeadTimeRule:
    hours_per_day: float = 16.0
    free_share: float = 0.5
    handling_days: int = 1
    work_weekends: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.hours_per_day <= 24:
            raise ValueError("hours_per_day must be in (0, 24]")
        if not 0 < self.free_share <= 1:
            raise ValueError("free_share must be in (0, 1]")
        if self.handling_days < 0:
            raise ValueError("handling_days must not be negative")

    def describe(self, machines: int) -> str:
        return (
            f"lead-time rule (no live plan consulted): {machines} eligible machine(s) × "
            f"{self.hours_per_day:g} h/day × {self.free_share:.0%} free capacity, "
            f"+{self.handling_days} handling day(s)"
            + ("" if self.work_weekends else ", weekdays only")
        )


def promise_date(
    now: datetime, machine_hours: float, machines: int, rule: LeadTimeRule | None = None
) -> datetime:
    """Ship date at end of the working day: production days + handling days from `now`."""
    rule = rule or LeadTimeRule()
    if machines < 1:
        raise ValueError("at least one eligible machine is needed for a promise date")
    if machine_hours < 0:
        raise ValueError("machine_hours must not be negative")
    daily = machines * rule.hours_per_day * rule.free_share
    days = max(1, math.ceil(machine_hours / daily - 1e-9)) + rule.handling_days
    day = utc(now).replace(hour=17, minute=0, second=0, microsecond=0)
    while days > 0:
        day += timedelta(days=1)
        if rule.work_weekends or day.weekday() < 5:
            days -= 1
    return day
