"""The planner the dispatcher talks to, in two adapters over the planning service's model:

* `DispatchPlanner` — the planning service's problem (`services.planning.build_problem`:
  calendars, downtimes, running operations frozen) solved by the best dispatching rule or
  the repair of the previous plan, scored with the stability term. It takes milliseconds
  and is deterministic, so a seeded twin run is reproducible; plans are stored as versions
  in the planning service's store (the dashboard shows them).
* `ServicePlanner` — the planning service itself (CP-SAT + LNS within its time limit);
  better plans, but a wall-clock time limit makes a run not bit-for-bit reproducible.

Both keep downtimes and maintenance windows; a window that starts later than now is added
to the downtimes and the plan is made from now (so work before the window is planned).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from microfactory.orders import Factory, WorkStatus
from microfactory.planning.model import Assignment, Objective
from microfactory.planning.result import weighted_tardiness_of
from microfactory.services.factory import current_factory
from microfactory.services.planning import (
    OPEN,
    EventKind,
    Interval,
    PlannedOperation,
    PlanningService,
    PlanStore,
    ReplanEvent,
    build_problem,
)
from microfactory.services.ports import UnitOfWorkFactory


class LoopPlanner(Protocol):
    """Port: plan all open work, or apply an event and plan again."""

    def plan(self, now: datetime, reason: str) -> tuple[list[PlannedOperation], str, int]:
        """The plan (operations), the solver's name and the weighted tardiness."""
        ...

    def replan(self, event: ReplanEvent) -> tuple[list[PlannedOperation], str, int]: ...

    def add_window(self, machine: str, start: datetime, end: datetime, reason: str) -> None: ...

    def set_held(self, lots: set[str]) -> None:
        """Lots on quality hold: their work is left out of the plan."""
        ...


class DispatchPlanner:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: PlanStore | None = None,
        *,
        objective: Objective = Objective.WEIGHTED_TARDINESS,
        stability_weight: int = 30,
        horizon_days: int = 45,
        factory: Factory | None = None,
    ) -> None:
        self.uow = uow
        self.factory = factory
        self.store = store
        self.objective = objective
        self.stability_weight = stability_weight
        self.horizon_days = horizon_days
        self.downtimes: dict[str, list[Interval]] = {}
        self.previous: dict[str, tuple[str, datetime]] = {}
        self.held: set[str] = set()

    def set_held(self, lots: set[str]) -> None:
        self.held = set(lots)

    def add_window(self, machine: str, start: datetime, end: datetime, reason: str) -> None:
        self.downtimes.setdefault(machine, []).append((start, end, reason))

    def replan(self, event: ReplanEvent) -> tuple[list[PlannedOperation], str, int]:
        machine = event.machine
        if event.kind is EventKind.MACHINE_DOWN and machine is not None:
            with self.uow() as tx:
                mttr = (self.factory or current_factory(tx)).machine_map[machine].mttr_hours
            until = event.until or event.at + timedelta(hours=mttr)
            self.add_window(machine, event.at, until, event.reason or "breakdown")
        elif event.kind is EventKind.MACHINE_BACK and machine is not None:
            self.downtimes[machine] = [
                (s, min(e, event.at), r)
                for s, e, r in self.downtimes.get(machine, [])
                if s < event.at
            ]
        elif event.kind is EventKind.MAINTENANCE and machine is not None and event.until:
            self.add_window(machine, event.at, event.until, event.reason or "maintenance")
        elif event.kind is EventKind.QUALITY_HOLD and event.work_order is not None:
            with self.uow() as tx:
                tx.work_orders.set_status(event.work_order, WorkStatus.HELD)
                tx.commit()
        return self.plan(event.at, f"{event.kind}: {event.reason}" if event.reason else event.kind)

    def plan(self, now: datetime, reason: str) -> tuple[list[PlannedOperation], str, int]:
        from microfactory.planning.cpsat import safe_horizon
        from microfactory.planning.solver import best_dispatch

        with self.uow() as tx:
            factory = self.factory or current_factory(tx)
            work_orders = tx.work_orders.find(status=list(OPEN))
        work_orders = [wo for wo in work_orders if wo.lot not in self.held]
        self._prune(now)
        built = build_problem(
            factory, work_orders, now, downtimes=self.downtimes, horizon_days=self.horizon_days
        )
        problem = built.problem
        if not problem.operations:
            return [], "none", 0
        index = {op: k for k, op in enumerate(built.op_ids)}
        machines = {m: i for i, m in enumerate(built.machine_ids)}
        previous: dict[int, Assignment] = {}
        for op_id, (machine, start) in self.previous.items():
            k = index.get(op_id)
            offset = int((start - built.origin).total_seconds() // 60)
            if k is not None and offset >= 0:
                duration = problem.operations[k].duration_on(machines[machine])
                if duration is not None:
                    previous[k] = Assignment(k, machines[machine], offset, offset + duration)
        scale = safe_horizon(problem, previous or None) + 1
        plan, rule = best_dispatch(
            problem,
            self.objective,
            scale,
            previous or None,
            self.stability_weight if previous else 0,
        )
        if plan is None:
            return [], "none", 0
        frozen = {f.op for f in problem.frozen}
        ops = [
            PlannedOperation(
                operation=built.op_ids[a.op],
                work_order=problem.jobs[problem.operations[a.op].job].name,
                machine=built.machine_ids[a.machine],
                start=built.origin + timedelta(minutes=a.start),
                end=built.origin + timedelta(minutes=a.end),
                due=built.due.get(problem.jobs[problem.operations[a.op].job].name),
                frozen=a.op in frozen,
            )
            for a in plan
        ]
        self.previous = {op.operation: (op.machine, op.start) for op in ops}
        tardiness = weighted_tardiness_of(problem, plan)
        if self.store is not None:
            moved = sum(
                1
                for a in plan
                if a.op in previous
                and (previous[a.op].machine, previous[a.op].start) != (a.machine, a.start)
            )
            header: Mapping[str, Any] = {
                "created_at": now,
                "origin": built.origin,
                "objective": self.objective.value,
                "objective_value": tardiness,
                "status": "feasible",
                "solver": f"dispatch-{rule}",
                "seconds": 0.0,
                "reason": reason,
                "weighted_tardiness": tardiness,
                "moved": moved,
            }
            rows = [
                {
                    "operation": op.operation,
                    "work_order": op.work_order,
                    "machine": op.machine,
                    "start": op.start,
                    "end": op.end,
                    "due": op.due,
                    "frozen": op.frozen,
                }
                for op in ops
            ]
            self.store.save_plan(header, rows)
        return ops, f"dispatch-{rule}", tardiness

    def _prune(self, now: datetime) -> None:
        """Forget downtimes that ended more than a day ago."""
        cutoff = now - timedelta(days=1)
        for machine, spans in self.downtimes.items():
            self.downtimes[machine] = [s for s in spans if s[1] > cutoff]


class ServicePlanner:
    """The planning service (CP-SAT + LNS within `settings.time_limit`)."""

    def __init__(self, service: PlanningService) -> None:
        self.service = service

    def set_held(self, lots: set[str]) -> None:
        """The service plans held work too; the dispatcher does not release it."""

    def add_window(self, machine: str, start: datetime, end: datetime, reason: str) -> None:
        self.service.add_window(machine, start, end, reason)

    def plan(self, now: datetime, reason: str) -> tuple[list[PlannedOperation], str, int]:
        version = self.service.plan(reason, release_confirmed=False)
        return list(version.operations), version.solver, int(version.weighted_tardiness or 0)

    def replan(self, event: ReplanEvent) -> tuple[list[PlannedOperation], str, int]:
        version = self.service.replan(event)
        return list(version.operations), version.solver, int(version.weighted_tardiness or 0)
