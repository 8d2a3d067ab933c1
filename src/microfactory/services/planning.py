"""Planning use cases: plan the open work orders on the factory and store the plan as a new
version; re-plan on shop-floor events (machine down / back, rush order, maintenance window,
quality hold), keeping running operations frozen and penalising changes to the current plan.

Time inside the solver is whole minutes from the plan origin (the earliest running
operation's start, or now). Machine calendars become unavailability windows over
`horizon_days`; downtimes and maintenance windows given by events are added to them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Factory, OrderStatus, WorkOrder, WorkStatus
from microfactory.orders.pins import OperationPin
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Job,
    Mode,
    Objective,
    Operation,
    Problem,
)
from microfactory.planning.model import Machine as PlanMachine
from microfactory.planning.model import Window as PlanWindow
from microfactory.planning.result import (
    ScheduleResult,
    Status,
    makespan_of,
    weighted_tardiness_of,
)
from microfactory.services.factory import current_factory
from microfactory.services.orders import release_order
from microfactory.services.planning_crew import crew_for, plan_operators
from microfactory.services.planning_pins import explain_rush, plan_pins, rush_order_ids
from microfactory.services.ports import (
    ExclusiveLock,
    Interval,
    MaterialAvailability,
    UnitOfWork,
    UnitOfWorkFactory,
)

OPEN = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.RUNNING)


class EventKind(StrEnum):
    MACHINE_DOWN = "machine_down"
    MACHINE_BACK = "machine_back"
    RUSH_ORDER = "rush_order"
    MAINTENANCE = "maintenance"
    QUALITY_HOLD = "quality_hold"


@dataclass(frozen=True)
class ReplanEvent:
    """What changed. `machine` for down / back / maintenance; `until` the expected end of a
    downtime (default: the machine's MTTR) or of a maintenance window starting at `at`;
    `order` for a rush order; `work_order` for a quality hold."""

    kind: EventKind
    at: datetime
    machine: str | None = None
    until: datetime | None = None
    order: str | None = None
    work_order: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or (self.until is not None and self.until.tzinfo is None):
            raise ValueError("event times must be timezone-aware")
        needs = {
            EventKind.MACHINE_DOWN: self.machine,
            EventKind.MACHINE_BACK: self.machine,
            EventKind.MAINTENANCE: self.machine,
            EventKind.RUSH_ORDER: self.order,
            EventKind.QUALITY_HOLD: self.work_order,
        }
        if needs[self.kind] is None:
            raise ValueError(f"a {self.kind} event needs its machine / order / work order")
        if self.kind is EventKind.MAINTENANCE and self.until is None:
            raise ValueError("a maintenance window needs `until` after `at`")
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"`until` ({self.until}) must be after `at` ({self.at})")


@dataclass(frozen=True)
class PlannedOperation:
    operation: str
    work_order: str
    machine: str
    start: datetime
    end: datetime
    due: datetime | None
    frozen: bool = False
    operator: str | None = None


@dataclass(frozen=True)
class PlanVersion:
    version: int
    current: bool
    created_at: datetime
    origin: datetime
    objective: str
    objective_value: int | None
    status: str
    solver: str
    seconds: float
    reason: str
    weighted_tardiness: int | None
    moved: int
    operations: tuple[PlannedOperation, ...] = ()

    @property
    def late_work_orders(self) -> list[str]:
        """Work orders whose last planned operation ends after their due date."""
        finish: dict[str, PlannedOperation] = {}
        for op in self.operations:
            if op.work_order not in finish or op.end > finish[op.work_order].end:
                finish[op.work_order] = op
        return sorted(wo for wo, op in finish.items() if op.due is not None and op.end > op.due)


@dataclass
class PlanningSettings:
    strategy: Literal["cpsat", "dispatch"] = "cpsat"
    time_limit: float = 10.0
    workers: int = 2
    objective: Objective = Objective.WEIGHTED_TARDINESS
    stability_weight: int = 30  # weighted minutes of lateness one moved operation is worth
    horizon_days: int = 60
    lock_wait_s: float | None = 600.0
    """How long to wait for another process's plan to finish before Conflict."""


@dataclass(frozen=True)
class BuiltProblem:
    problem: Problem
    origin: datetime
    op_ids: list[str]
    work_orders: list[str]
    machine_ids: list[str]
    due: dict[str, datetime]
    notes: tuple[str, ...] = ()
    """Pins that could not be kept as stored (the operation is running, the start has
    passed or falls in a downtime), said in the plan's reason."""


def _minutes(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds() / 60.0)


def build_problem(
    factory: Factory,
    work_orders: Sequence[WorkOrder],
    now: datetime,
    *,
    downtimes: Mapping[str, Sequence[Interval]] | None = None,
    horizon_days: int = 60,
    exclusions: Mapping[str, Mapping[str, str]] | None = None,
    material_ready: Mapping[str, datetime] | None = None,
    pins: Sequence[OperationPin] = (),
    rush_orders: Collection[str] = (),
) -> BuiltProblem:
    """The open operations of `work_orders` as a problem in minutes. A running operation
    stays frozen where it is, unless its machine is down now (it is interrupted).
    `exclusions` (operation -> machines) keeps an operation off machines that cannot run it
    now (the print farm's re-routing), as long as another eligible machine remains. An
    operation whose material is not on hand is released when it is there
    (`material_ready`: on hand or due with a purchase order; see `MaterialAvailability`).
    A planner's `pins` keep an operation on a machine (and at a start); the work orders of
    `rush_orders` are rush jobs, planned ahead of every operation that can move.
    Operators and crew needs come from the factory's crew (`planning_crew`)."""
    downtimes = downtimes or {}
    exclusions = exclusions or {}
    material_ready = material_ready or {}
    machine_ids = [m.id for m in factory.machines]
    index = {m: i for i, m in enumerate(machine_ids)}
    down_now = {m for m, spans in downtimes.items() if any(s <= now < e for s, e, _ in spans)}
    open_wos = [wo for wo in work_orders if wo.status in OPEN]
    running = [
        op
        for wo in open_wos
        for op in wo.operations
        if op.status == WorkStatus.RUNNING
        and op.machine in index
        and op.actual_start is not None
        and op.machine not in down_now
    ]
    running_ids = {op.id for op in running}
    origin = min([now] + [op.actual_start for op in running if op.actual_start is not None])
    origin = origin.replace(second=0, microsecond=0)
    release_now = _minutes(now - origin)
    jobs: list[Job] = []
    operations: list[Operation] = []
    op_ids: list[str] = []
    frozen: list[FrozenOp] = []
    op_index: dict[str, int] = {}
    precedences: list[tuple[int, int]] = []
    due: dict[str, datetime] = {}
    for wo in open_wos:
        job = len(jobs)
        jobs.append(
            Job(
                name=wo.id,
                release=max(0, _minutes((wo.release or origin) - origin)),
                due=max(0, _minutes(wo.due - origin)),
                weight=max(1, wo.weight),
                rush=wo.order in rush_orders,
            )
        )
        due[wo.id] = wo.due
        by_seq = {op.seq: op for op in wo.operations}
        for op in wo.operations:
            if op.status in (WorkStatus.DONE, WorkStatus.CANCELLED, WorkStatus.HELD):
                continue
            eligible = factory.eligible_machines(op.capability, op.machines)
            excluded = exclusions.get(op.id, {})
            allowed = [m for m in eligible if m.id not in excluded]
            if op.id not in running_ids and allowed:
                eligible = allowed
            modes = tuple(
                Mode(index[m.id], max(1, math.ceil(op.minutes / m.speed_factor))) for m in eligible
            )
            # a running operation already has its person (a shift change under a running
            # job is the shop's handover, not the planner's): no crew need for it
            crew = (
                None
                if op.id in running_ids
                else crew_for(factory, wo.product, op.seq, [m.id for m in eligible])
            )
            k = len(operations)
            is_frozen = op.id in running_ids
            operations.append(
                Operation(
                    job=job,
                    modes=modes,
                    name=op.id,
                    family=op.setup_family or "",
                    release=0
                    if is_frozen
                    else _release(op.id, release_now, origin, material_ready),
                    crew=crew,
                )
            )
            if is_frozen and op.machine is not None and op.actual_start is not None:
                frozen.append(FrozenOp(k, index[op.machine], _minutes(op.actual_start - origin)))
            op_ids.append(op.id)
            op_index[op.id] = k
        for op in wo.operations:
            for p in op.predecessors:
                pred = by_seq.get(p)
                if pred is not None and pred.id in op_index and op.id in op_index:
                    precedences.append((op_index[pred.id], op_index[op.id]))
    horizon = origin + timedelta(days=horizon_days)
    machines = tuple(
        _plan_machine(factory, mid, origin, horizon, downtimes.get(mid, ()), operations, frozen)
        for mid in machine_ids
    )
    problem = Problem(
        machines=machines,
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple(precedences),
        frozen=tuple(frozen),
        name=f"plan@{origin.isoformat()}",
        operators=plan_operators(factory, origin, horizon),
    )
    kept, notes = plan_pins(problem, pins, op_index, index, origin, release_now)
    if kept:
        problem = replace(problem, pins=kept)
    return BuiltProblem(
        problem, origin, op_ids, [wo.id for wo in open_wos], machine_ids, due, tuple(notes)
    )


def _release(
    op_id: str, release_now: int, origin: datetime, material_ready: Mapping[str, datetime]
) -> int:
    ready = material_ready.get(op_id)
    if ready is None:
        return release_now
    return max(release_now, _minutes(ready - origin))


def _plan_machine(
    factory: Factory,
    mid: str,
    origin: datetime,
    horizon: datetime,
    downtimes: Sequence[Interval],
    operations: Sequence[Operation],
    frozen: Sequence[FrozenOp],
) -> PlanMachine:
    machine = factory.machine_map[mid]
    m = list(factory.machine_map).index(mid)
    cuts: list[tuple[int, int]] = []
    if not machine.calendar.always_on:
        t = origin
        for w in machine.calendar.working_windows(origin, horizon):
            if w.start > t:
                cuts.append((_minutes(t - origin), _minutes(w.start - origin)))
            t = w.end
        if t < horizon:
            cuts.append((_minutes(t - origin), _minutes(horizon - origin)))
    for start, end, _reason in downtimes:
        if end > origin:
            cuts.append((max(0, _minutes(start - origin)), _minutes(end - origin)))
    for item in frozen:
        if item.machine == m:
            # a running operation keeps running: windows give way to it
            length = operations[item.op].duration_on(m) or 0
            cuts = _cut_out(cuts, item.start, item.start + length)
    families = sorted({op.family for op in operations if op.family and op.duration_on(m)})
    setups = {
        (a, b): math.ceil(machine.setup_time_minutes(a, b))
        for a in families
        for b in families
        if a != b and machine.setup_time_minutes(a, b) > 0
    }
    windows = tuple(PlanWindow(s, e) for s, e in _merge(cuts) if e > s)
    return PlanMachine(name=mid, unavailable=windows, setups=setups)


def _merge(cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(cuts):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _cut_out(cuts: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in cuts:
        if e <= lo or s >= hi:
            out.append((s, e))
            continue
        if s < lo:
            out.append((s, lo))
        if hi < e:
            out.append((hi, e))
    return out


class CapacityHolds(Protocol):
    """Capacity promised but not yet ordered (held quotes): machine -> [(start, end, why)].
    Every plan keeps off it, whoever asks for the plan."""

    def held_intervals(self, now: datetime) -> dict[str, list[Interval]]: ...


class PlanningService:
    """The one planning service: plans, and plans again when something changed.

    Every change that needs a new plan goes through here, whoever notices it: the reactor
    (a breakdown, a repair, an aborted job, a due PM, a quality hold: `tx.replans.request`
    in its transaction, then `serve_requests` after the commit), the order intake (a rush
    order), the CLI and the API (`replan(event)`). Downtimes and maintenance windows are kept
    in the plan store, held lots' work is left out, held quotes' capacity is kept free
    (`holds`), running operations stay where they are and a moved operation costs
    `stability_weight` (repair, not re-plan from scratch), and an operation does not start
    before its material is on hand or due (`materials`).

    `settings.strategy` picks the solver: ``cpsat`` (CP-SAT + LNS within the time limit; the
    best plans) or ``dispatch`` (the best dispatching rule or the repair of the previous plan:
    milliseconds and deterministic, so a seeded simulation is reproducible)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        settings: PlanningSettings | None = None,
        *,
        holds: CapacityHolds | None = None,
        materials: MaterialAvailability | None = None,
        listeners: Sequence[Callable[[PlanVersion], None]] = (),
        lock: ExclusiveLock | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.settings = settings or PlanningSettings()
        self.holds = holds
        self.materials = materials
        self.listeners = list(listeners)
        self.lock = lock

    def _exclusive(self) -> AbstractContextManager[None]:
        """The planning lock (nothing to hold in a store of this process alone)."""
        return nullcontext() if self.lock is None else self.lock.hold(self.settings.lock_wait_s)

    # -- asking for a plan -------------------------------------------------------------------

    def plan(
        self,
        reason: str = "plan",
        *,
        release_confirmed: bool = True,
        trigger: str = "manual",
        time_limit: float | None = None,
    ) -> PlanVersion:
        """Release confirmed orders (optional), plan every open work order, store it.
        `time_limit` (seconds) overrides the settings' for this plan only. Under the
        planning lock: plans made at once by several processes follow each other."""
        with self._exclusive():
            now = self.clock.now()
            if release_confirmed:
                with self.uow() as tx:
                    for order in tx.orders.find(status=[OrderStatus.CONFIRMED], limit=100_000):
                        release_order(tx, order.id, now)
                    tx.commit()
            return self._plan(now, reason, trigger, time_limit)

    def request(self, at: datetime, trigger: str, reason: str = "") -> None:
        """Queue a replan (served by `serve_requests`)."""
        with self.uow() as tx:
            tx.replans.request(at, trigger, reason)
            tx.commit()

    def serve_requests(self) -> PlanVersion | None:
        """Plan once for every replan request queued since the last plan."""
        with self.uow() as tx:
            pending = tx.replans.pending()
        if not pending:
            return None
        with self._exclusive():
            with self.uow() as tx:
                pending = tx.replans.pending()  # another process may have served them
            if not pending:
                return None
            reasons = "; ".join(
                f"{r.trigger}: {r.reason}" if r.reason else r.trigger for r in pending
            )
            version = self._plan(self.clock.now(), reasons, pending[0].trigger)
            with self.uow() as tx:
                tx.replans.mark_done([r.id for r in pending], self.clock.now(), version.version)
                tx.commit()
            return version

    def replan(self, event: ReplanEvent, *, time_limit: float | None = None) -> PlanVersion:
        """Apply `event` and plan again from `event.at`, keeping what runs and what need
        not change."""
        with self._exclusive():
            with self.uow() as tx:
                factory = current_factory(tx)
                if event.machine is not None and event.machine not in factory.machine_map:
                    raise ValidationError(f"unknown machine {event.machine!r}", where="machine")
                apply_event(tx, factory, event)
                tx.commit()
            reason = f"{event.kind}: {event.reason}" if event.reason else str(event.kind)
            return self._plan(event.at, reason, str(event.kind), time_limit)

    def add_window(self, machine: str, start: datetime, end: datetime, reason: str) -> None:
        """A span in which `machine` is not planned (stored; no re-plan)."""
        with self.uow() as tx:
            tx.plans.add_downtime(machine, start, end, reason)
            tx.commit()

    # -- a planner's pins ----------------------------------------------------------------------

    def pins(self) -> list[OperationPin]:
        with self.uow() as tx:
            return tx.pins.all()

    def pin(
        self,
        operation: str,
        machine: str,
        start: datetime | None = None,
        *,
        by: str = "planner",
        time_limit: float | None = None,
    ) -> PlanVersion:
        """Pin `operation` to `machine` (and to `start`) and plan around it. Bad input is a
        ValidationError naming it; a pin that leaves no feasible plan is taken back (the
        stored pins and the current plan stay as they were) and is a Conflict that says why."""
        with self._exclusive():
            now = self.clock.now()
            if start is not None:
                if start.tzinfo is None:
                    raise ValidationError("a pin's start must be timezone-aware", where="start")
                start = start.replace(second=0, microsecond=0)
                if start < now.replace(second=0, microsecond=0):
                    raise ValidationError(
                        f"a pin's start ({start:%Y-%m-%d %H:%M}) must not be in the past",
                        where="start",
                    )
            with self.uow() as tx:
                self._check_pin(tx, operation, machine)
                before = tx.pins.all()
                tx.pins.put(OperationPin(operation, machine, start, by, now))
                tx.commit()
            where = machine if start is None else f"{machine} at {start:%Y-%m-%d %H:%M} UTC"
            try:
                version = self._plan(now, f"pin {operation} to {where} by {by}", "pin", time_limit)
            except ValueError as exc:  # the problem refused the pins (e.g. a downtime)
                self._restore_pins(before)
                raise Conflict(f"cannot pin {operation} to {where}: {exc}") from exc
            placed = next((op for op in version.operations if op.operation == operation), None)
            kept = placed is not None and placed.machine == machine
            if kept and start is not None:
                kept = placed is not None and placed.start == start
            if version.status not in (Status.OPTIMAL.value, Status.FEASIBLE.value) or not kept:
                self._restore_pins(before)
                self._plan(now, f"pin {operation} taken back", "pin", time_limit)
                raise Conflict(
                    f"cannot pin {operation} to {where}: no plan keeps it ({version.reason})"
                )
            return version

    def unpin(
        self, operation: str, *, by: str = "planner", time_limit: float | None = None
    ) -> PlanVersion:
        """Remove the pin of `operation` (NotFound when it has none) and plan again."""
        with self._exclusive():
            with self.uow() as tx:
                if not tx.pins.remove(operation):
                    raise NotFound(f"operation {operation!r} is not pinned")
                tx.commit()
            return self._plan(self.clock.now(), f"unpin {operation} by {by}", "pin", time_limit)

    def _check_pin(self, tx: UnitOfWork, operation: str, machine: str) -> None:
        factory = current_factory(tx)
        if machine not in factory.machine_map:
            known = ", ".join(sorted(factory.machine_map))
            raise ValidationError(f"unknown machine {machine!r} (known: {known})", where="machine")
        try:
            op = tx.work_orders.get_operation(operation)
        except NotFound as exc:
            raise ValidationError(f"unknown operation {operation!r}", where="operation") from exc
        if op.status not in OPEN:
            raise ValidationError(
                f"operation {operation} is {op.status}: only a planned or released operation "
                "can be pinned",
                where="operation",
            )
        eligible = [m.id for m in factory.eligible_machines(op.capability, op.machines)]
        if machine not in eligible:
            raise ValidationError(
                f"{machine} cannot run operation {operation} (it can run on: "
                f"{', '.join(eligible) or 'none'})",
                where="machine",
            )

    def _restore_pins(self, pins: Sequence[OperationPin]) -> None:
        with self.uow() as tx:
            for pin in tx.pins.all():
                tx.pins.remove(pin.operation)
            for pin in pins:
                tx.pins.put(pin)
            tx.commit()

    # -- reading plans -----------------------------------------------------------------------

    def downtimes(self, since: datetime | None = None) -> dict[str, list[Interval]]:
        """Stored downtimes and maintenance windows ending after `since`, by machine."""
        with self.uow() as tx:
            return tx.plans.downtimes(since)

    def current(self) -> PlanVersion | None:
        with self.uow() as tx:
            stored = tx.plans.current_plan()
        return None if stored is None else _version(*stored)

    def version(self, number: int) -> PlanVersion:
        with self.uow() as tx:
            return _version(*tx.plans.get_plan(number))

    def versions(self) -> list[dict[str, Any]]:
        with self.uow() as tx:
            return tx.plans.versions()

    # -- planning ----------------------------------------------------------------------------

    def _plan(
        self, now: datetime, reason: str, trigger: str, time_limit: float | None = None
    ) -> PlanVersion:
        began = time.perf_counter()
        with self.uow() as tx:
            factory = current_factory(tx)
            held = tx.quality.held_lots()
            work_orders = [
                wo for wo in tx.work_orders.find(status=list(OPEN)) if wo.lot not in held
            ]
            downtimes = tx.plans.downtimes(since=now)
            exclusions = tx.plans.exclusions()
            stored = tx.plans.current_plan()
            pins = tx.pins.all()
            rush_orders = rush_order_ids(tx, work_orders)
        if self.holds is not None:
            for machine, spans in self.holds.held_intervals(now).items():
                downtimes.setdefault(machine, []).extend(spans)
        ready: dict[str, datetime] = {}
        if self.materials is not None:
            sequence = {} if stored is None else {r["operation"]: r["start"] for r in stored[1]}
            ready = self.materials.ready_times(work_orders, now, sequence)
        built = build_problem(
            factory,
            work_orders,
            now,
            downtimes=downtimes,
            horizon_days=self.settings.horizon_days,
            exclusions=exclusions,
            material_ready=ready,
            pins=pins,
            rush_orders=rush_orders,
        )
        current = None if stored is None else _version(*stored)
        previous = _previous(built, current)
        result = self._solve(built, previous, time_limit or self.settings.time_limit)
        # what the plan was, also where a pin now rules the old machine out (for `moved`)
        before = _previous(built, current, any_machine=True)
        planned_before = set() if current is None else {o.operation for o in current.operations}
        order_of = {wo.id: wo.order for wo in work_orders}
        reason = "; ".join(
            [
                reason,
                *built.notes,
                *explain_rush(built, result, before, order_of, trigger, planned_before),
            ]
        )
        seconds = time.perf_counter() - began
        with self.uow() as tx:
            version = self._store(tx, built, result, before, reason, now, seconds)
            tx.records.log_plan_run(
                now,
                trigger,
                reason,
                len(version.operations),
                version.solver,
                seconds,
                int(version.weighted_tardiness or 0),
            )
            _release_planned(tx, work_orders, {op.operation for op in version.operations})
            tx.commit()
        for listener in self.listeners:
            listener(version)
        return version

    def _solve(
        self, built: BuiltProblem, previous: Mapping[int, Assignment], time_limit: float
    ) -> ScheduleResult:
        from microfactory.planning.solver import solve  # lazily: OR-Tools + numba, ~1 s

        s = self.settings
        weight = s.stability_weight if previous else 0
        if s.strategy == "dispatch":
            return dispatch_result(built.problem, s.objective, previous, weight)
        return solve(
            built.problem,
            s.objective,
            time_limit,
            s.workers,
            previous=previous or None,
            stability_weight=weight,
        )

    def _store(
        self,
        tx: UnitOfWork,
        built: BuiltProblem,
        result: ScheduleResult,
        previous: Mapping[int, Assignment],
        reason: str,
        now: datetime,
        seconds: float,
    ) -> PlanVersion:
        problem = built.problem
        frozen = {f.op for f in problem.frozen} - problem.pinned_ops()  # running, not pinned
        summary = [
            (
                built.op_ids[a.op],
                problem.jobs[problem.operations[a.op].job].name,
                built.machine_ids[a.machine],
                built.origin + timedelta(minutes=a.start),
                built.origin + timedelta(minutes=a.end),
            )
            for a in result.assignments
        ]
        rows = [
            {
                "operation": op,
                "work_order": wo,
                "machine": machine,
                "start": start,
                "end": end,
                "due": built.due.get(wo),
                "frozen": a.op in frozen,
                "operator": None if a.operator is None else problem.operators[a.operator].name,
            }
            for a, (op, wo, machine, start, end) in zip(result.assignments, summary, strict=True)
        ]
        moved = sum(
            1
            for a in result.assignments
            if a.op in previous
            and (previous[a.op].machine, previous[a.op].start) != (a.machine, a.start)
        )
        header = {
            "created_at": now,
            "origin": built.origin,
            "objective": self.settings.objective.value,
            "objective_value": result.objective,
            "status": result.status.value,
            "solver": result.solver,
            "seconds": round(seconds, 3),
            "reason": reason if result.has_plan else f"{reason}; no plan: {result.reason}",
            "weighted_tardiness": result.weighted_tardiness,
            "moved": moved,
        }
        version = tx.plans.save_plan(header, rows)
        tx.records.save_plan(version, summary)
        return _version(dict(header, version=version, current=True), rows)


def apply_event(tx: UnitOfWork, factory: Factory, event: ReplanEvent) -> None:
    """What a replanning event changes before the plan is made again: a downtime starts or
    ends, a maintenance window is kept, a rush order is released, a work order is held."""
    if event.kind is EventKind.MACHINE_DOWN and event.machine is not None:
        mttr = timedelta(hours=factory.machine_map[event.machine].mttr_hours)
        until = event.until or event.at + mttr
        tx.plans.add_downtime(event.machine, event.at, until, event.reason or "breakdown")
    elif event.kind is EventKind.MACHINE_BACK and event.machine is not None:
        tx.plans.end_downtime(event.machine, event.at)
    elif event.kind is EventKind.MAINTENANCE and event.machine is not None:
        assert event.until is not None
        tx.plans.add_downtime(event.machine, event.at, event.until, event.reason or "maintenance")
    elif event.kind is EventKind.RUSH_ORDER and event.order is not None:
        order = tx.orders.get(event.order)
        tx.pins.mark_rush(order.id, event.at)
        if order.status == OrderStatus.CONFIRMED:
            release_order(tx, order.id, event.at)
    elif event.kind is EventKind.QUALITY_HOLD and event.work_order is not None:
        tx.work_orders.set_status(event.work_order, WorkStatus.HELD)


def _release_planned(tx: UnitOfWork, work_orders: Sequence[WorkOrder], planned: set[str]) -> None:
    """Operations (and their work orders) that a plan took in are released."""
    for wo in work_orders:
        changed = False
        for op in wo.operations:
            if op.status == WorkStatus.PLANNED and op.id in planned:
                tx.work_orders.update_operation(replace(op, status=WorkStatus.RELEASED))
                changed = True
        if changed and wo.status == WorkStatus.PLANNED:
            tx.work_orders.set_status(wo.id, WorkStatus.RELEASED)


def _previous(
    built: BuiltProblem, current: PlanVersion | None, *, any_machine: bool = False
) -> dict[int, Assignment]:
    """The current plan in the problem's indices: operations on a machine they can still
    run (the solvers' `previous`), or with `any_machine` every one still open (to count
    what moved, e.g. an operation pinned to another machine)."""
    if current is None:
        return {}
    index = {op_id: k for k, op_id in enumerate(built.op_ids)}
    machines = {m: i for i, m in enumerate(built.machine_ids)}
    people = {person.name: k for k, person in enumerate(built.problem.operators)}
    previous: dict[int, Assignment] = {}
    for op in current.operations:
        k = index.get(op.operation)
        if k is None or op.machine not in machines:
            continue
        start = _minutes(op.start - built.origin)
        if start < 0:
            continue
        duration = built.problem.operations[k].duration_on(machines[op.machine])
        if duration is None and any_machine:
            duration = max(0, _minutes(op.end - op.start))
        who = people.get(op.operator) if op.operator is not None else None
        if duration is not None:
            previous[k] = Assignment(k, machines[op.machine], start, start + duration, who)
    return previous


def dispatch_result(
    problem: Problem,
    objective: Objective,
    previous: Mapping[int, Assignment],
    stability_weight: int,
) -> ScheduleResult:
    """The best dispatching rule or repair of the previous plan, as a solver result."""
    from microfactory.planning.cpsat import safe_horizon
    from microfactory.planning.solver import best_dispatch

    began = time.perf_counter()
    plan: list[Assignment] | None = []
    rule = "none"
    if problem.operations:
        scale = safe_horizon(problem, previous or None) + 1
        plan, rule = best_dispatch(problem, objective, scale, previous or None, stability_weight)
    seconds = time.perf_counter() - began
    if plan is None:
        return ScheduleResult(
            status=Status.INFEASIBLE,
            objective=None,
            bound=None,
            seconds=seconds,
            reason="no dispatching rule found a feasible plan",
            solver="dispatch",
        )
    tardiness = weighted_tardiness_of(problem, plan)
    return ScheduleResult(
        status=Status.FEASIBLE,
        objective=tardiness,
        bound=None,
        seconds=seconds,
        assignments=tuple(sorted(plan, key=lambda a: a.op)),
        solver=f"dispatch-{rule}",
        makespan=makespan_of(plan),
        weighted_tardiness=tardiness,
    )


def _version(header: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> PlanVersion:
    return PlanVersion(
        version=header["version"],
        current=header["current"],
        created_at=header["created_at"],
        origin=header["origin"],
        objective=header["objective"],
        objective_value=header["objective_value"],
        status=header["status"],
        solver=header["solver"],
        seconds=header["seconds"],
        reason=header["reason"],
        weighted_tardiness=header["weighted_tardiness"],
        moved=header["moved"],
        operations=tuple(
            sorted(
                (PlannedOperation(**row) for row in rows),
                key=lambda op: (op.start, op.operation),
            )
        ),
    )
