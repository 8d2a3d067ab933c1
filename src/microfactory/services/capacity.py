"""Capacity load and the intake check: how full each machine is, and whether a new order can
make its due date.

* **Load** per machine and day (and week): hours of the current plan's operations on the
  machine against the hours it is available (its shift calendar less stored breakdowns and
  maintenance windows), in the site's time zone. The machine with the highest load over the
  horizon is the bottleneck.
* **Intake check**: each line's routing is inserted into the gaps of the current plan by
  capable-to-promise (nothing planned moves, as for a quote). When the estimated completion is
  after the order's due date, the warning names the step that waits longest and the machine
  it waits for (the bottleneck for this order) and until when that machine is booked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from microfactory.core.errors import InfeasibleError
from microfactory.core.timeutil import local_text, zone
from microfactory.orders import Factory, OrderLine
from microfactory.quoting.ctp import Promise, Step, promise
from microfactory.services.factory import current_factory
from microfactory.services.ports import UnitOfWorkFactory

Interval = tuple[datetime, datetime]
HORIZON_DAYS = 14


@dataclass(frozen=True)
class PeriodLoad:
    label: str
    start: datetime
    planned_h: float
    available_h: float

    @property
    def load(self) -> float | None:
        """planned / available; None where the machine is not available at all."""
        return None if self.available_h <= 0 else self.planned_h / self.available_h


@dataclass(frozen=True)
class MachineLoad:
    machine: str
    name: str
    days: tuple[PeriodLoad, ...]
    weeks: tuple[PeriodLoad, ...]
    planned_h: float
    available_h: float
    booked_until: datetime | None
    back: int = 0
    """The first `back` days are before today (hours worked), the rest from today on."""

    @property
    def load(self) -> float | None:
        return None if self.available_h <= 0 else self.planned_h / self.available_h

    @staticmethod
    def _ratio(days: Sequence[PeriodLoad]) -> float | None:
        avail = sum(d.available_h for d in days)
        return None if avail <= 0 else sum(d.planned_h for d in days) / avail

    @property
    def load_back(self) -> float | None:
        """Hours worked over hours available in the days before today."""
        return self._ratio(self.days[: self.back])

    @property
    def load_ahead(self) -> float | None:
        """Hours worked and planned over hours available from today on."""
        return self._ratio(self.days[self.back :])

    @property
    def peak_load(self) -> float | None:
        """The higher of the two: a bottleneck shows in what was worked or what is planned
        (at the end of a demo nothing new is planned)."""
        loads = [x for x in (self.load_back, self.load_ahead) if x is not None]
        return max(loads) if loads else None


@dataclass(frozen=True)
class CapacityView:
    now: datetime
    timezone: str
    plan_version: int | None
    machines: tuple[MachineLoad, ...]
    back: int = 0
    days: int = HORIZON_DAYS

    @property
    def bottleneck(self) -> MachineLoad | None:
        """The machine with the highest load over the horizon (None without planned work)."""
        loaded = [m for m in self.machines if m.peak_load is not None and m.planned_h > 0]
        if not loaded:
            return None
        return max(loaded, key=lambda m: (m.peak_load or 0.0, m.booked_until or self.now))

    def to_dict(self) -> dict[str, Any]:
        b = self.bottleneck
        return {
            "now": self.now.isoformat(),
            "plan_version": self.plan_version,
            "bottleneck": None if b is None else b.machine,
            "machines": [
                {
                    "machine": m.machine,
                    "planned_h": m.planned_h,
                    "available_h": m.available_h,
                    "load": None if m.load is None else round(m.load, 4),
                    "load_back": None if m.load_back is None else round(m.load_back, 4),
                    "load_ahead": None if m.load_ahead is None else round(m.load_ahead, 4),
                    "booked_until": None if m.booked_until is None else m.booked_until.isoformat(),
                    "days": [
                        {"day": d.label, "planned_h": d.planned_h, "available_h": d.available_h}
                        for d in m.days
                    ],
                }
                for m in self.machines
            ],
        }


def _overlap(spans: Sequence[Interval], lo: datetime, hi: datetime) -> float:
    total = 0.0
    for a, b in spans:
        x, y = max(a, lo), min(b, hi)
        if y > x:
            total += (y - x).total_seconds()
    return total


def _merge(spans: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def _intersect(xs: Sequence[Interval], ys: Sequence[Interval]) -> list[Interval]:
    """The overlap of two sorted, disjoint interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if hi > lo:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def capacity_load(
    factory: Factory,
    plan_rows: Sequence[Mapping[str, Any]],
    downtimes: Mapping[str, Sequence[tuple[datetime, datetime, str]]],
    now: datetime,
    *,
    days: int = HORIZON_DAYS,
    back: int = 0,
    worked: Mapping[str, Sequence[Interval]] | None = None,
    plan_version: int | None = None,
) -> CapacityView:
    """Hours per machine against available hours, per local day from `back` days before
    today to `days` days after it, and per ISO week: before now the hours its operations
    actually ran (`worked`, by machine), from now on the current plan's. The totals cover
    the whole window."""
    tz = zone(factory.site.timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=back)
    span = back + days
    bounds = [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz).astimezone(now.tzinfo)
        for i in range(span + 1)
    ]
    end = bounds[-1]
    planned: dict[str, list[Interval]] = {}
    booked: dict[str, datetime] = {}
    for row in plan_rows:
        m = row["machine"]
        if row["end"] > now:  # before now, what ran counts, not what was planned
            planned.setdefault(m, []).append((max(row["start"], now), row["end"]))
            booked[m] = max(booked.get(m, now), row["end"])
    for m, spans in (worked or {}).items():
        planned.setdefault(m, []).extend((a, min(b, now)) for a, b in spans if a < now)
    out: list[MachineLoad] = []
    for machine in factory.machines:
        working = [(w.start, w.end) for w in machine.calendar.working_windows(bounds[0], end)]
        down = _merge([(a, b) for a, b, _ in downtimes.get(machine.id, ())])
        # hours of work inside the machine's working time (an operation paused over a night
        # or a weekend does not count the pause)
        mine = _intersect(_merge(planned.get(machine.id, [])), _merge(working))
        day_loads: list[PeriodLoad] = []
        for i in range(span):
            lo, hi = bounds[i], bounds[i + 1]
            avail = _overlap(working, lo, hi) - _overlap(
                [(max(a, lo), min(b, hi)) for a, b in down if b > lo and a < hi], lo, hi
            )
            day = (first + timedelta(days=i)).isoformat()
            day_loads.append(
                PeriodLoad(
                    day,
                    lo,
                    round(_overlap(mine, lo, hi) / 3600.0, 2),
                    round(max(0.0, avail) / 3600.0, 2),
                )
            )
        out.append(
            MachineLoad(
                machine=machine.id,
                name=machine.name,
                days=tuple(day_loads),
                weeks=_weeks(day_loads, tz),
                planned_h=round(sum(d.planned_h for d in day_loads), 1),
                available_h=round(sum(d.available_h for d in day_loads), 1),
                booked_until=booked.get(machine.id),
                back=back,
            )
        )
    return CapacityView(now, factory.site.timezone, plan_version, tuple(out), back, days)


def _weeks(days: Sequence[PeriodLoad], tz: Any) -> tuple[PeriodLoad, ...]:
    weeks: dict[tuple[int, int], list[PeriodLoad]] = {}
    for d in days:
        iso = date.fromisoformat(d.label).isocalendar()
        weeks.setdefault((iso.year, iso.week), []).append(d)
    return tuple(
        PeriodLoad(
            f"{y}-W{w:02d}",
            ds[0].start,
            round(sum(d.planned_h for d in ds), 1),
            round(sum(d.available_h for d in ds), 1),
        )
        for (y, w), ds in sorted(weeks.items())
    )


def read_capacity(
    uow: UnitOfWorkFactory, now: datetime, days: int = HORIZON_DAYS, back: int = 0
) -> CapacityView:
    """The capacity view: the stored current plan from now on, and for the `back` days
    before today the hours operations actually ran."""
    since = now - timedelta(days=back + 1)
    worked: dict[str, list[Interval]] = {}
    with uow() as tx:
        factory = current_factory(tx)
        stored = tx.plans.current_plan()
        downtimes = tx.plans.downtimes(since)
        if back > 0:
            for wo in tx.work_orders.find():
                for op in wo.operations:
                    if op.machine and op.actual_start is not None:
                        stop = op.actual_end or now
                        if stop > since:
                            worked.setdefault(op.machine, []).append((op.actual_start, stop))
    header, rows = stored if stored is not None else ({"version": None}, [])
    return capacity_load(
        factory,
        rows,
        downtimes,
        now,
        days=days,
        back=back,
        worked=worked,
        plan_version=header["version"],
    )


# -- intake check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeCheck:
    """The capable-to-promise estimate of a new order against the current plan."""

    completion: datetime | None
    due: datetime
    bottleneck: str | None
    bottleneck_name: str
    booked_until: datetime | None
    wait_hours: float
    message: str

    @property
    def late(self) -> bool:
        return self.completion is None or self.completion > self.due

    def to_dict(self) -> dict[str, Any]:
        return {
            "late": self.late,
            "estimated_completion": None
            if self.completion is None
            else self.completion.isoformat(),
            "due": self.due.isoformat(),
            "bottleneck": self.bottleneck,
            "booked_until": None if self.booked_until is None else self.booked_until.isoformat(),
            "wait_hours": round(self.wait_hours, 1),
            "message": self.message,
        }


def _steps(factory: Factory, line: OrderLine) -> list[Step]:
    product = factory.product_map[line.product]
    speed = {m.id: m.speed_factor for m in factory.machines}
    steps = []
    for op in product.routing:
        machines = tuple(m.id for m in factory.eligible_machines(op.capability, op.machines))
        if machines:
            steps.append(Step(op.name, machines, max(op.minutes(line.quantity), 1.0), speed=speed))
    return steps


def intake_check(
    factory: Factory,
    plan_rows: Sequence[Mapping[str, Any]],
    downtimes: Mapping[str, Sequence[tuple[datetime, datetime, str]]],
    lines: Sequence[OrderLine],
    due: datetime,
    now: datetime,
    *,
    horizon_days: int = 60,
) -> IntakeCheck:
    """Insert each line into the current plan's gaps (lines one after another, so they do
    not share a gap) and name the step that waits longest for its machine."""
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    busy: dict[str, list[Interval]] = {}
    booked: dict[str, datetime] = {}
    for row in plan_rows:
        if row["end"] > start:
            busy.setdefault(row["machine"], []).append((row["start"], row["end"]))
            booked[row["machine"]] = max(booked.get(row["machine"], start), row["end"])
    # far enough that the order fits after everything planned (a warning, not a failure)
    horizon = max([start, *booked.values()]) + timedelta(days=horizon_days)
    for machine, spans in downtimes.items():
        busy.setdefault(machine, []).extend((a, b) for a, b, _ in spans)
    working = {
        m.id: [(w.start, w.end) for w in m.calendar.working_windows(start, horizon)]
        for m in factory.machines
        if not m.calendar.always_on or m.calendar.unavailable
    }
    completion: datetime | None = start
    worst: tuple[float, str, str] = (0.0, "", "")
    tzname = factory.site.timezone
    for line in lines:
        steps = _steps(factory, line)
        if not steps:
            continue
        try:
            result: Promise = promise(steps, now=start, busy=busy, working=working, horizon=horizon)
        except InfeasibleError:
            completion = None
            break
        ready = start
        for slot in result.slots:
            wait = (slot.start - ready).total_seconds() / 3600.0
            if wait > worst[0]:
                worst = (wait, slot.machine, slot.step)
            ready = slot.end
            busy.setdefault(slot.machine, []).append((slot.start, slot.end))
        completion = max(completion, result.completion) if completion is not None else None
    names = {m.id: m.name for m in factory.machines}
    wait_h, machine, step = worst
    until = booked.get(machine) if machine else None
    if completion is None:
        message = (
            f"no capacity found within {horizon_days} days after the last planned "
            "operation: check the capacity page"
        )
    elif completion <= due:
        message = f"fits: estimated completion {local_text(completion, tzname)}"
    else:
        waited = f"{wait_h:.0f} h" if wait_h < 48 else f"{wait_h / 24:.0f} days"
        where = (
            f"; it waits {waited} at {names[machine]} ({machine}), booked until "
            f"{local_text(until, tzname)}"
            if machine and until is not None
            else ""
        )
        message = (
            f"capacity: estimated completion {local_text(completion, tzname)} is after the due "
            f"date {local_text(due, tzname)}{where} (step {step})"
            if machine
            else f"capacity: estimated completion {local_text(completion, tzname)} is after the "
            f"due date {local_text(due, tzname)}"
        )
    return IntakeCheck(
        completion=completion,
        due=due,
        bottleneck=machine or None,
        bottleneck_name=names.get(machine, ""),
        booked_until=until,
        wait_hours=wait_h,
        message=message,
    )


def check_intake(
    uow: UnitOfWorkFactory, lines: Sequence[OrderLine], due: datetime, now: datetime
) -> IntakeCheck:
    """The intake check against the stored current plan."""
    with uow() as tx:
        factory = current_factory(tx)
        stored = tx.plans.current_plan()
        downtimes = tx.plans.downtimes(now)
    rows = stored[1] if stored is not None else []
    return intake_check(factory, rows, downtimes, lines, due, now)


def order_capacity(uow: UnitOfWorkFactory, order_id: str, now: datetime) -> IntakeCheck | None:
    """For an open order: its planned completion against its due date when the current plan
    has its work, else the intake check of its lines; None for a finished or cancelled one."""
    with uow() as tx:
        order = tx.orders.get(order_id)
        if order.status.value in ("done", "cancelled"):
            return None
        factory = current_factory(tx)
        wos = {w.id for w in tx.work_orders.find(order=order_id)}
        stored = tx.plans.current_plan()
        downtimes = tx.plans.downtimes(now)
    rows = stored[1] if stored is not None else []
    mine = [r for r in rows if r["work_order"] in wos]
    if not mine:
        return intake_check(factory, rows, downtimes, order.lines, order.due, now)
    last = max(mine, key=lambda r: r["end"])
    tzname = factory.site.timezone
    names = {m.id: m.name for m in factory.machines}
    late = last["end"] > order.due
    message = (
        f"planned to finish {local_text(last['end'], tzname)}, after the due date "
        f"{local_text(order.due, tzname)} (last step on {names.get(last['machine'], '')} "
        f"({last['machine']}))"
        if late
        else f"planned to finish {local_text(last['end'], tzname)}, before the due date"
    )
    return IntakeCheck(
        completion=last["end"],
        due=order.due,
        bottleneck=last["machine"] if late else None,
        bottleneck_name=names.get(last["machine"], "") if late else "",
        booked_until=None,
        wait_hours=0.0,
        message=message,
    )


QUOTE_WAIT_HOURS = 24.0
"""A quote's step that waits longer than this for its machine gets a capacity warning."""


def quote_bottleneck_warning(
    factory: Factory,
    slots: Sequence[Any],
    start: datetime,
    booked: Mapping[str, datetime],
) -> str | None:
    """The capacity warning of a quote's capable-to-promise slots: the step that waits
    longest for its machine, when it waits over `QUOTE_WAIT_HOURS`."""
    ready = start
    worst: tuple[float, str, str] = (0.0, "", "")
    for slot in slots:
        wait = (slot.start - ready).total_seconds() / 3600.0
        if wait > worst[0]:
            worst = (wait, slot.machine, slot.step)
        ready = slot.end
    wait_h, machine, step = worst
    if wait_h <= QUOTE_WAIT_HOURS:
        return None
    names = {m.id: m.name for m in factory.machines}
    wait = f"{wait_h:.0f} h" if wait_h < 48 else f"{wait_h / 24:.0f} days"
    until = booked.get(machine)
    tail = f", booked until {local_text(until, factory.site.timezone)}" if until else ""
    return (
        f"capacity: step {step} waits {wait} for {names.get(machine, machine)} "
        f"({machine}){tail}; it sets this promised date"
    )
