"""The factory's people as the planner sees them: operators with their shifts as
unavailability windows in plan minutes, and each operation's crew need in minutes.

An operator's calendar becomes windows over the planning horizon exactly as a machine's
does (off shift = unavailable; after the horizon everybody counts as available, as machines
do). A crew need comes from the routing step, else from the strictest need among the
machines that may run it (`orders.crew.Crew.need`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from microfactory.orders import Factory
from microfactory.orders.crew import CrewNeed
from microfactory.planning.model import Attendance, Crew, Operator, Window


def _minutes(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds() / 60.0)


def plan_operators(factory: Factory, origin: datetime, horizon: datetime) -> tuple[Operator, ...]:
    """The operators in factory order, off-shift spans as windows in minutes from `origin`."""
    people = []
    for person in factory.crew.operators:
        cuts: list[tuple[int, int]] = []
        calendar = person.calendar
        if not calendar.always_on or calendar.unavailable:
            t = origin
            for w in calendar.working_windows(origin, horizon):
                if w.start > t:
                    cuts.append((_minutes(t - origin), _minutes(w.start - origin)))
                t = max(t, w.end)
            if t < horizon:
                cuts.append((_minutes(t - origin), _minutes(horizon - origin)))
        windows = tuple(Window(s, e) for s, e in _merged(cuts) if e > s)
        people.append(Operator(name=person.id, skills=person.skills, unavailable=windows))
    return tuple(people)


def _merged(cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(cuts):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def crew_for(factory: Factory, product: str, seq: int, machines: Iterable[str]) -> Crew | None:
    """The planning crew need of step `seq` of `product` on any of `machines`, or None."""
    need = factory.crew.need(product, seq, machines)
    return None if need is None else to_plan_crew(need)


def to_plan_crew(need: CrewNeed) -> Crew:
    attendance = Attendance(need.attendance)
    return Crew(
        skill=need.skill,
        attendance=attendance,
        setup=math.ceil(need.setup_minutes),
        unload=math.ceil(need.unload_minutes),
        share=need.share_percent if attendance is Attendance.SHARE else 100,
    )
