"""TPM use cases: usage counters from machine events, preventive work orders opened when a
plan comes due, windows planned in the machine's working time and handed to the scheduler,
work orders completed from the machine's own maintenance events. Predictive work orders
(from the PdM service) take the same path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from microfactory.maintenance.tpm import (
    DEFAULT_PLANS,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceWorkOrder,
    PmPlan,
    Usage,
    checklist_for,
    is_due,
    open_pm,
    plans_for,
)
from microfactory.orders import Factory
from microfactory.shopfloor.events import PartCounter, StateChanged

WINDOW_DELAY = timedelta(hours=2)


class MaintenanceStore(Protocol):
    def save_maintenance(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one maintenance work order (see `maintenance_row`)."""
        ...


def maintenance_row(wo: MaintenanceWorkOrder) -> dict[str, Any]:
    return {
        "id": wo.id,
        "machine": wo.machine,
        "kind": wo.kind.value,
        "plan": wo.plan,
        "status": wo.status.value,
        "reason": wo.reason,
        "created": wo.created,
        "window_start": wo.window.start if wo.window else None,
        "window_end": wo.window.end if wo.window else None,
        "started": wo.started,
        "done": wo.done,
        "parts": [{"part": p.part, "quantity": p.quantity, "unit": p.unit} for p in wo.parts],
        "labour_hours": wo.labour_hours,
        "checklist": list(wo.checklist),
    }


@dataclass
class _Counter:
    run_hours: float = 0.0
    cycles: int = 0
    since: datetime | None = None


@dataclass
class _MachineUsage:
    processing_since: datetime | None = None
    per_plan: dict[str, _Counter] = field(default_factory=dict)


class TpmService:
    """`on_window(work_order)` is called when a window is planned (the composition hands it
    to the dispatcher, which replans, and to the machine or the twin)."""

    def __init__(
        self,
        store: MaintenanceStore,
        factory: Factory,
        start: datetime,
        on_window: Callable[[MaintenanceWorkOrder], None],
        *,
        plans: tuple[PmPlan, ...] = DEFAULT_PLANS,
        enabled: bool = True,
    ) -> None:
        self.store = store
        self.factory = factory
        self.on_window = on_window
        self.enabled = enabled
        self.machines = {m.id: m for m in factory.machines}
        self.plans = {m.id: plans_for(m.type, plans) for m in factory.machines}
        self.usage = {
            m.id: _MachineUsage(
                per_plan={p.id: _Counter(since=start) for p in self.plans[m.id]},
            )
            for m in factory.machines
        }
        self.orders: dict[str, MaintenanceWorkOrder] = {}
        self.seq = 0
        self.done_by_kind: dict[str, int] = {}

    # -- usage from events -----------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            self._state(event)
        elif isinstance(event, PartCounter):
            for counter in self.usage[event.machine].per_plan.values():
                counter.cycles += event.good + event.reject

    def _state(self, e: StateChanged) -> None:
        u = self.usage[e.machine]
        if u.processing_since is not None:
            hours = (e.ts - u.processing_since).total_seconds() / 3600.0
            for counter in u.per_plan.values():
                counter.run_hours += hours
            u.processing_since = None
        if e.state.value == "Executing" and e.mode.value == "processing":
            u.processing_since = e.ts
        reason = e.reason or ""
        if reason.startswith("pm:"):
            self._started(reason[3:], e.ts)
        elif reason.startswith("pm_done:"):
            self._done(reason[8:], e.ts)
        elif reason.startswith("breakdown"):
            # a repair renews the machine like a PM: usage counts from the repair on
            for counter in u.per_plan.values():
                counter.run_hours = 0.0
                counter.cycles = 0

    # -- work orders -----------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq:05d}"

    def check(self, now: datetime) -> list[MaintenanceWorkOrder]:
        """Open and plan a work order for every plan that has come due."""
        if not self.enabled:
            return []
        planned: list[MaintenanceWorkOrder] = []
        busy = {
            (wo.machine, wo.plan)
            for wo in self.orders.values()
            if wo.status in (MaintenanceStatus.OPEN, MaintenanceStatus.PLANNED)
        }
        for mid, plans in self.plans.items():
            for plan in plans:
                if (mid, plan.id) in busy:
                    continue
                c = self.usage[mid].per_plan[plan.id]
                usage = Usage(mid, c.run_hours, c.cycles, c.since or now)
                if is_due(plan, usage, now):
                    m = self.machines[mid]
                    wo = open_pm(plan, mid, m.type, self._next_id("PM"), now)
                    planned.append(self._plan(wo, now))
        return planned

    def open_predictive(
        self, machine: str, now: datetime, reason: str, minutes: float = 60.0
    ) -> MaintenanceWorkOrder | None:
        """A predictive work order (from a failure prediction); None when one is already
        open for the machine."""
        for wo in self.orders.values():
            if wo.machine == machine and wo.status in (
                MaintenanceStatus.OPEN,
                MaintenanceStatus.PLANNED,
            ):
                return None
        m = self.machines[machine]
        wo = MaintenanceWorkOrder(
            id=self._next_id("PDM"),
            machine=machine,
            kind=MaintenanceKind.PREDICTIVE,
            created=now,
            minutes=minutes,
            reason=reason[:500],
            labour_hours=minutes / 60.0,
            checklist=checklist_for(m.type),
        )
        return self._plan(wo, now, delay=timedelta(minutes=30))

    def _plan(
        self, wo: MaintenanceWorkOrder, now: datetime, delay: timedelta = WINDOW_DELAY
    ) -> MaintenanceWorkOrder:
        self.store.save_maintenance(maintenance_row(wo))
        start = self.window_start(wo.machine, now + delay, wo.minutes)
        wo = wo.plan_window(start)
        self.orders[wo.id] = wo
        self.store.save_maintenance(maintenance_row(wo))
        self.on_window(wo)
        return wo

    def window_start(self, machine: str, earliest: datetime, minutes: float) -> datetime:
        """The first time from `earliest` at which the machine works `minutes` on end."""
        cal = self.machines[machine].calendar
        if cal.always_on:
            return earliest
        for w in cal.working_windows(earliest, earliest + timedelta(days=14)):
            if w.seconds >= minutes * 60.0:
                return w.start
        return earliest

    def _started(self, ref: str, at: datetime) -> None:
        wo = self.orders.get(ref)
        if wo is not None and wo.started is None:
            self.orders[ref] = replace(wo, started=at)

    def _done(self, ref: str, at: datetime) -> None:
        wo = self.orders.get(ref)
        if wo is None or wo.status != MaintenanceStatus.PLANNED:
            return
        started = wo.started or at
        wo = wo.complete(started, at, wo.labour_hours)
        self.orders[ref] = wo
        self.store.save_maintenance(maintenance_row(wo))
        self.done_by_kind[wo.kind.value] = self.done_by_kind.get(wo.kind.value, 0) + 1
        u = self.usage[wo.machine]
        for counter in u.per_plan.values():
            counter.run_hours = 0.0
            counter.cycles = 0
        if wo.plan in u.per_plan:
            u.per_plan[wo.plan].since = at
