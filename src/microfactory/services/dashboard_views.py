"""Read models over the other areas' stores, for the dashboard and the API: machine state
timelines and downsampled sensor series (telemetry), OEE today (ISO 22400, from the stored
events), plan versions for the Gantt (planning, or the closed loop's live plan), maintenance
work orders. Each store is reached through a Protocol; results are cached for a few seconds
so fifty dashboards polling at once cost one computation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from microfactory.core.clock import Clock
from microfactory.core.errors import NotFound, ValidationError
from microfactory.maintenance.oee import spans_from_states
from microfactory.services.dashboard import MachineStatus, TtlCache
from microfactory.services.factory import current_factory
from microfactory.services.loop_summary import oee_from_events, planned_run_times
from microfactory.services.ports import DashboardQueries, TelemetryReader, UnitOfWorkFactory
from microfactory.shopfloor.events import Event, StateChanged

MAX_POINTS = 2000


@dataclass(frozen=True)
class StateSegment:
    start: datetime
    end: datetime
    state: str
    mode: str
    reason: str | None


@dataclass(frozen=True)
class SeriesPoint:
    at: datetime
    count: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class GanttBar:
    operation: str
    work_order: str
    machine: str
    start: datetime
    end: datetime
    due: datetime | None
    late: bool


@dataclass(frozen=True)
class GanttData:
    source: str
    version: int | None
    created_at: datetime | None
    reason: str
    bars: list[GanttBar]
    late_work_orders: list[str]


def statuses_provider(telemetry: TelemetryReader) -> Callable[[], dict[str, MachineStatus]]:
    def states() -> dict[str, MachineStatus]:
        return {
            s.machine: MachineStatus(
                state=s.state.value, mode=s.mode.value, since=s.since, reason=s.reason
            )
            for s in telemetry.machine_statuses()
        }

    return states


class _WindowReader:
    """Limits event reads to a window (OEE of one day needs a day, not the whole history)."""

    def __init__(self, telemetry: TelemetryReader, start: datetime, end: datetime) -> None:
        self.telemetry = telemetry
        self.start = start
        self.end = end

    def events(
        self,
        *,
        machine: str | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Event]:
        return self.telemetry.events(
            machine=machine, kind=kind, start=self.start, end=self.end, limit=limit
        )

    def counts(self) -> dict[str, int]:
        return self.telemetry.counts()


class MachineViews:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        telemetry: TelemetryReader,
        queries: DashboardQueries,
        cache: TtlCache | None = None,
        slow_cache: TtlCache | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.telemetry = telemetry
        self.queries = queries
        self.cache = cache or TtlCache(10.0)
        # Planned run times and due dates change only when orders arrive: kept longer.
        self.slow_cache = slow_cache or TtlCache(120.0)

    def oee(self, start: datetime, end: datetime) -> dict[str, float]:
        """Per-machine OEE over [start, end) from stored state, job and counter events;
        machines with no planned busy time are left out."""

        def compute() -> dict[str, float]:
            with self.uow() as tx:
                factory = current_factory(tx)
            pri = self.slow_cache.get("pri", lambda: planned_run_times(self.uow, factory))
            # State changes before `start` decide the state at `start`: read a day back.
            reader = _WindowReader(self.telemetry, start - timedelta(days=1), end)
            result = oee_from_events(reader, pri, factory, start, end)
            return {m: r.figures.oee for m, r in result.items() if r.pbt > 0}

        return self.cache.get(f"oee:{start.isoformat()}:{end.isoformat()}", compute)

    def state_timeline(self, machine: str, start: datetime, end: datetime) -> list[StateSegment]:
        if end <= start:
            raise ValidationError("end must be after start", where="end")
        events = self.telemetry.events(
            machine=machine, kind="state", start=start - timedelta(days=2), end=end
        )
        changes = [
            (e.ts, e.state.value, e.mode.value, e.reason)
            for e in events
            if isinstance(e, StateChanged)
        ]
        if not changes or changes[0][0] > start:
            # No change in the look-back window: the current state, if it began before the
            # window, held from its start.
            current = next(
                (x for x in self.telemetry.machine_statuses() if x.machine == machine), None
            )
            if current is not None and current.since is not None and current.since <= start:
                changes.insert(0, (start, current.state.value, current.mode.value, current.reason))
        spans = spans_from_states(machine, changes, end)
        return [
            StateSegment(max(s.start, start), s.end, s.state, s.mode, s.reason)
            for s in spans
            if s.end > start
        ]

    def signals(self, machine: str) -> list[str]:
        return self.queries.signals(machine)

    def series(
        self, machine: str, signal: str, start: datetime, end: datetime, points: int = 300
    ) -> list[SeriesPoint]:
        """A signal downsampled to at most `points` buckets (min / max / mean each)."""
        if end <= start:
            raise ValidationError("end must be after start", where="end")
        if not 1 <= points <= MAX_POINTS:
            raise ValidationError(f"points must be 1–{MAX_POINTS}", where="points")
        width = max(timedelta(seconds=1), (end - start) / points)
        return [
            SeriesPoint(b.start, b.count, b.min, b.max, b.mean)
            for b in self.telemetry.downsample(machine, signal, start, end, width)
        ]

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]:
        return self.queries.maintenance_orders(status)

    def live_gantt(self, now: datetime) -> GanttData | None:
        rows = self.queries.live_plan()
        if not rows:
            return None
        due = self._due_dates()
        bars = [
            GanttBar(
                operation=r["operation"],
                work_order=r["work_order"],
                machine=r["machine"],
                start=r["start"],
                end=r["end"],
                due=due.get(r["work_order"]),
                late=bool(due.get(r["work_order"]) and r["end"] > due[r["work_order"]]),
            )
            for r in rows
        ]
        late = sorted({b.work_order for b in bars if b.late})
        return GanttData("closed loop", None, None, "live plan of the closed loop", bars, late)

    def _due_dates(self) -> dict[str, datetime]:
        def compute() -> dict[str, datetime]:
            with self.uow() as tx:
                return {w.id: w.due for w in tx.work_orders.find()}

        return self.slow_cache.get("due", compute)


def gantt_from_plan(plan: Any) -> GanttData:
    """Bars of a planning-service `PlanVersion`."""
    late = set(plan.late_work_orders)
    bars = [
        GanttBar(
            operation=op.operation,
            work_order=op.work_order,
            machine=op.machine,
            start=op.start,
            end=op.end,
            due=op.due,
            late=op.work_order in late,
        )
        for op in plan.operations
    ]
    return GanttData("planning", plan.version, plan.created_at, plan.reason, bars, sorted(late))


def require_machine(uow: UnitOfWorkFactory, machine: str) -> None:
    with uow() as tx:
        if machine not in current_factory(tx).machine_map:
            raise NotFound(f"machine {machine} does not exist")
