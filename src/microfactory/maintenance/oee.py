"""OEE per ISO 22400-2 from stored machine events, the six big losses, downtime Pareto,
MTBF and MTTR. Pure: the caller reads state changes and part counts from the store.

Time model of one machine over a period (OPC 40001-1 states):
* NotAvailable (off shift) is outside the planned operating time (POT);
* OutOfService for planned maintenance (`reason` "pm:...") is planned downtime (PDT);
  planned busy time PBT = POT − PDT;
* Executing/processing is actual production time (APT); NotExecuting with reason
  "micro_stop" is a minor stop and counted inside APT (a performance loss, Nakajima's
  "idling and minor stops");
* Executing/setup is setup time (AUST), an availability loss; OutOfService "breakdown:..." is
  failure time;
* NotExecuting otherwise is idle: no work was released to the machine. By default that time is
  not planned busy time (OEE measures the time production was scheduled; the idle share shows
  in `loading` = PBT / POT, the TEEP view); `idle_is_loss=True` counts it as an availability
  loss instead.

Figures: availability A = APT / PBT; effectiveness E = PRI x PQ / APT (PRI: planned run
time per item); quality ratio QR = GQ / PQ; OEE = A x E x QR. MTBF = busy time (APT + setup)
per failure, MTTR = mean failure duration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from microfactory.core.timeutil import zone

MINOR_STOP = "micro_stop"


@dataclass(frozen=True)
class OeeFigures:
    availability: float
    effectiveness: float
    quality_ratio: float
    oee: float


def oee_figures(pbt: float, apt: float, pri: float, pq: float, gq: float) -> OeeFigures:
    """ISO 22400-2 with one planned run time per item: A = APT/PBT, E = PRI x PQ / APT,
    QR = GQ/PQ. Zero denominators give 0 (nothing planned, nothing run, nothing made)."""
    if min(pbt, apt, pri, pq, gq) < 0:
        raise ValueError("OEE inputs must not be negative")
    if gq > pq:
        raise ValueError("good quantity cannot exceed produced quantity")
    return figures_from_ideal(pbt, apt, pri * pq, pq, gq)


def figures_from_ideal(pbt: float, apt: float, ideal: float, pq: float, gq: float) -> OeeFigures:
    """As `oee_figures` with the sum of planned run times (Σ PRI_i x PQ_i) given directly."""
    a = apt / pbt if pbt > 0 else 0.0
    e = ideal / apt if apt > 0 else 0.0
    q = gq / pq if pq > 0 else 0.0
    return OeeFigures(a, e, q, a * e * q)


@dataclass(frozen=True)
class StateSpan:
    machine: str
    start: datetime
    end: datetime
    state: str
    mode: str
    reason: str | None = None

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0

    @property
    def category(self) -> str:
        reason = self.reason or ""
        if self.state == "NotAvailable":
            return "off_shift"
        if self.state == "OutOfService":
            if reason.startswith("pm:"):
                return "planned_maintenance"
            return "breakdown" if reason.startswith("breakdown") else "out_of_service"
        if self.state == "Executing":
            return "setup" if self.mode == "setup" else "processing"
        return "minor_stop" if reason == MINOR_STOP else "idle"


@dataclass(frozen=True)
class PartCount:
    """Parts counted at `ts`; `pri_minutes` is the planned run time per item of the
    operation they belong to; `startup` marks the first count after a setup; `since` is when
    the machine began on them (the previous count or the job start), for proration."""

    machine: str
    ts: datetime
    good: int
    reject: int
    pri_minutes: float
    startup: bool = False
    since: datetime | None = None

    def share_in(self, start: datetime, end: datetime) -> float:
        """The share of the making of these parts that falls in [start, end)."""
        if self.since is None or self.since >= self.ts:
            return 1.0 if start <= self.ts < end else 0.0
        lo, hi = max(self.since, start), min(self.ts, end)
        return max(0.0, (hi - lo) / (self.ts - self.since))


@dataclass
class MachineOee:
    machine: str
    pot: float = 0.0
    pbt: float = 0.0
    apt: float = 0.0
    setup: float = 0.0
    breakdown: float = 0.0
    minor_stops: float = 0.0
    idle: float = 0.0
    planned_maintenance: float = 0.0
    ideal: float = 0.0
    pq: int = 0
    gq: int = 0
    failures: int = 0
    reject_minutes: float = 0.0
    startup_reject_minutes: float = 0.0
    downtime: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def figures(self) -> OeeFigures:
        return figures_from_ideal(self.pbt, self.apt, self.ideal, self.pq, self.gq)

    @property
    def loading(self) -> float:
        """Planned busy time over the shift time (1 − the share idle for lack of work)."""
        return self.pbt / self.pot if self.pot > 0 else 0.0

    @property
    def mtbf_hours(self) -> float | None:
        return (self.apt + self.setup) / 60.0 / self.failures if self.failures else None

    @property
    def mttr_hours(self) -> float | None:
        return self.breakdown / 60.0 / self.failures if self.failures else None

    def six_big_losses(self) -> dict[str, float]:
        """Minutes lost per Nakajima category."""
        good_ideal = self.ideal - self.reject_minutes
        return {
            "breakdowns": round(self.breakdown, 1),
            "setup_and_adjustments": round(self.setup, 1),
            "idling_and_minor_stops": round(self.minor_stops, 1),
            "reduced_speed": round(max(0.0, self.apt - self.minor_stops - self.ideal), 1),
            "process_defects": round(self.reject_minutes - self.startup_reject_minutes, 1),
            "reduced_yield": round(self.startup_reject_minutes, 1),
            "valuable_operating_time": round(good_ideal, 1),
        }


def spans_from_states(
    machine: str,
    changes: Sequence[tuple[datetime, str, str, str | None]],
    end: datetime,
) -> list[StateSpan]:
    """Spans from time-ordered state changes (ts, state, mode, reason) up to `end`."""
    spans: list[StateSpan] = []
    for i, (ts, state, mode, reason) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else end
        until = min(until, end)
        if until > ts:
            spans.append(StateSpan(machine, ts, until, state, mode, reason))
    return spans


def _clip(span: StateSpan, start: datetime, end: datetime) -> float:
    lo, hi = max(span.start, start), min(span.end, end)
    return max(0.0, (hi - lo).total_seconds() / 60.0)


def machine_oee(
    machine: str,
    spans: Iterable[StateSpan],
    counts: Iterable[PartCount],
    start: datetime,
    end: datetime,
    *,
    idle_is_loss: bool = False,
    prorate: bool = False,
) -> MachineOee:
    """The machine's time model, quantities and losses over [start, end). Parts count in the
    period they are finished; with `prorate`, their planned run time is split over the
    periods in which they were made (short periods — shifts — with long cycles would
    otherwise show effectiveness above 1 in the period a long part ends)."""
    out = MachineOee(machine)
    for span in spans:
        minutes = _clip(span, start, end)
        if minutes <= 0:
            continue
        cat = span.category
        if cat == "off_shift":
            continue
        if cat == "planned_maintenance":
            out.planned_maintenance += minutes
            _add(out.downtime, "planned_maintenance", minutes, span.start >= start)
            continue
        out.pot += minutes
        if cat == "idle":
            out.idle += minutes
            _add(out.downtime, "idle_no_work", minutes, span.start >= start)
            if idle_is_loss:
                out.pbt += minutes
            continue
        out.pbt += minutes
        if cat == "processing":
            out.apt += minutes
        elif cat == "minor_stop":
            out.apt += minutes
            out.minor_stops += minutes
            _add(out.downtime, MINOR_STOP, minutes, span.start >= start)
        elif cat == "setup":
            out.setup += minutes
            _add(out.downtime, "setup", minutes, span.start >= start)
        elif cat in ("breakdown", "out_of_service"):
            out.breakdown += minutes
            if span.start >= start:
                out.failures += 1
            _add(out.downtime, span.reason or cat, minutes, span.start >= start)
    for c in counts:
        made = c.good + c.reject
        if start <= c.ts < end:
            out.pq += made
            out.gq += c.good
        share = c.share_in(start, end) if prorate else float(start <= c.ts < end)
        if share <= 0:
            continue
        out.ideal += made * c.pri_minutes * share
        out.reject_minutes += c.reject * c.pri_minutes * share
        if c.startup:
            out.startup_reject_minutes += c.reject * c.pri_minutes * share
    return out


def _add(table: dict[str, tuple[int, float]], reason: str, minutes: float, new: bool) -> None:
    n, total = table.get(reason, (0, 0.0))
    table[reason] = (n + (1 if new else 0), total + minutes)


def downtime_pareto(
    results: Iterable[MachineOee], *, include_idle: bool = False
) -> list[dict[str, float | int | str]]:
    """Downtime reasons over all machines, largest first, with the cumulative share (idle
    for lack of work only with `include_idle`)."""
    totals: dict[str, tuple[int, float]] = {}
    for r in results:
        for reason, (n, minutes) in r.downtime.items():
            if reason == "idle_no_work" and not include_idle:
                continue
            key = reason.split(":", 1)[0] if reason.startswith("pm:") else reason
            old = totals.get(key, (0, 0.0))
            totals[key] = (old[0] + n, old[1] + minutes)
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))
    grand = sum(m for _, (_, m) in ordered) or 1.0
    out: list[dict[str, float | int | str]] = []
    running = 0.0
    for reason, (n, minutes) in ordered:
        running += minutes
        out.append(
            {
                "reason": reason,
                "events": n,
                "minutes": round(minutes, 1),
                "share": round(minutes / grand, 4),
                "cumulative": round(running / grand, 4),
            }
        )
    return out


def day_periods(
    start: datetime, end: datetime, timezone: str = "UTC"
) -> list[tuple[str, datetime, datetime]]:
    """Calendar days of the site's `timezone` covering [start, end) (bounds in UTC)."""
    tz = zone(timezone)
    out: list[tuple[str, datetime, datetime]] = []
    day = start.astimezone(tz).date()
    while (lo := datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)) < end:
        hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        out.append((day.isoformat(), max(lo, start), min(hi, end)))
        day += timedelta(days=1)
    return out


SHIFTS: tuple[tuple[str, int], ...] = (("early", 6), ("late", 14), ("night", 22))


def shift_periods(
    start: datetime, end: datetime, timezone: str = "UTC"
) -> list[tuple[str, datetime, datetime]]:
    """Three 8-hour shifts a day (early 06–14, late 14–22, night 22–06) in the site's
    `timezone` (bounds in UTC)."""
    tz = zone(timezone)
    out: list[tuple[str, datetime, datetime]] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    while datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC) < end:
        for name, hour in SHIFTS:
            local = datetime.combine(day, time(hour), tzinfo=tz)
            s = local.astimezone(UTC)
            e = (local + timedelta(hours=8)).astimezone(UTC)
            lo, hi = max(s, start), min(e, end)
            if hi > lo:
                out.append((f"{day.isoformat()} {name}", lo, hi))
        day += timedelta(days=1)
    return out


def by_period(
    machine: str,
    spans: Sequence[StateSpan],
    counts: Sequence[PartCount],
    periods: Sequence[tuple[str, datetime, datetime]],
    *,
    idle_is_loss: bool = False,
) -> list[tuple[str, MachineOee]]:
    """The machine's OEE in each period (days or shifts), planned run time prorated."""
    return [
        (
            label,
            machine_oee(machine, spans, counts, s, e, idle_is_loss=idle_is_loss, prorate=True),
        )
        for label, s, e in periods
    ]
