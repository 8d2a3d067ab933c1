"""TPM on the event path: usage counters from machine events, preventive work orders opened
when a plan comes due, windows planned in the machine's working time and handed to the
scheduler, work orders completed from the machine's own maintenance events. Predictive work
orders (from the PdM handler) take the same path (`open_predictive`).

`TpmHandler` is a reactor handler: it applies committed `state` and `counter` events inside
the reactor's transaction, and its usage counters are stored (`tx.usage`), so a restart goes
on counting exactly where the last commit left it:

* run hours accrue while the machine is Executing in `processing` mode;
* cycles are the counter events' good + reject;
* `pm:<work order>` marks the maintenance started, `pm_done:<work order>` done (an open work
  order that was never planned, a repair, is closed too; the usage of
  every plan of the machine starts again from there);
* a breakdown renews the machine like a PM (usage counts from the repair on).

After each batch, every machine the batch touched is checked against its PM plans at the
time of its newest event: a plan that came due (and has no open work order) opens one, plans
its window (the first stretch of working time long enough, `window_delay` from now) as a
downtime the scheduler plans around, and asks for a replan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from microfactory.maintenance.tpm import (
    DEFAULT_PLANS,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceWorkOrder,
    Part,
    PmPlan,
    Usage,
    checklist_for,
    is_due,
    open_pm,
    plans_for,
)
from microfactory.orders import Factory
from microfactory.services.ports import UnitOfWork
from microfactory.services.reactor import Applied
from microfactory.shopfloor.calendar import Window
from microfactory.shopfloor.events import PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.records import PlanUsage, StoredEvent

WINDOW_DELAY = timedelta(hours=2)
OPEN_STATUSES = (MaintenanceStatus.OPEN.value, MaintenanceStatus.PLANNED.value)


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


def maintenance_from_row(row: Mapping[str, Any]) -> MaintenanceWorkOrder:
    window = None
    if row["window_start"] is not None and row["window_end"] is not None:
        window = Window(row["window_start"], row["window_end"], f"maintenance {row['id']}")
    minutes = (
        (row["window_end"] - row["window_start"]).total_seconds() / 60.0
        if window is not None
        else max(1.0, float(row["labour_hours"]) * 60.0)
    )
    return MaintenanceWorkOrder(
        id=row["id"],
        machine=row["machine"],
        kind=MaintenanceKind(row["kind"]),
        created=row["created"],
        minutes=minutes,
        plan=row["plan"],
        reason=row["reason"],
        status=MaintenanceStatus(row["status"]),
        window=window,
        started=row["started"],
        done=row["done"],
        parts=tuple(Part(p["part"], p["quantity"], p["unit"]) for p in row["parts"]),
        labour_hours=float(row["labour_hours"]),
        checklist=tuple(row["checklist"]),
    )


def window_start(factory: Factory, machine: str, earliest: datetime, minutes: float) -> datetime:
    """The first time from `earliest` at which the machine works `minutes` on end."""
    cal = factory.machine_map[machine].calendar
    if cal.always_on:
        return earliest
    for w in cal.working_windows(earliest, earliest + timedelta(days=14)):
        if w.seconds >= minutes * 60.0:
            return w.start
    return earliest


def _next_id(rows: list[dict[str, Any]], prefix: str) -> str:
    taken = sum(1 for r in rows if r["id"].startswith(prefix + "-"))
    return f"{prefix}-{taken + 1:05d}"


def plan_window(
    tx: UnitOfWork,
    factory: Factory,
    wo: MaintenanceWorkOrder,
    now: datetime,
    out: Applied,
    delay: timedelta = WINDOW_DELAY,
) -> MaintenanceWorkOrder:
    """Plan the work order's window as a downtime the scheduler plans around; ask for a
    replan. Returns the planned work order (stored)."""
    start = window_start(factory, wo.machine, now + delay, wo.minutes)
    wo = wo.plan_window(start)
    assert wo.window is not None
    row = maintenance_row(wo)
    tx.records.save_maintenance(row)
    tx.plans.add_downtime(wo.machine, wo.window.start, wo.window.end, f"pm:{wo.id}")
    tx.replans.request(now, "maintenance_window", f"{wo.machine} {wo.id}")
    out.replans_requested += 1
    out.maintenance_windows.append(row)
    out.downtimes_changed = True
    return wo


def open_predictive(
    tx: UnitOfWork,
    factory: Factory,
    machine: str,
    now: datetime,
    reason: str,
    out: Applied,
    minutes: float = 60.0,
) -> MaintenanceWorkOrder | None:
    """A predictive work order (from a failure prediction) with its window; None when the
    machine already has an open or planned work order."""
    rows = tx.records.maintenance_orders()
    if any(r["machine"] == machine and r["status"] in OPEN_STATUSES for r in rows):
        return None
    m = factory.machine_map[machine]
    wo = MaintenanceWorkOrder(
        id=_next_id(rows, "PDM"),
        machine=machine,
        kind=MaintenanceKind.PREDICTIVE,
        created=now,
        minutes=minutes,
        reason=reason[:500],
        labour_hours=minutes / 60.0,
        checklist=checklist_for(m.type),
    )
    tx.records.save_maintenance(maintenance_row(wo))
    return plan_window(tx, factory, wo, now, out, delay=timedelta(minutes=30))


@dataclass
class _Machine:
    """One machine's counters while a batch is applied (read at first touch, written back
    at the batch's end): plan -> [run hours, cycles, since]."""

    usage: dict[str, list[Any]]
    processing_since: datetime | None
    newest: datetime
    changed: bool = False

    def add(self, hours: float = 0.0, cycles: int = 0) -> None:
        for u in self.usage.values():
            u[0] += hours
            u[1] += cycles
        self.changed = True

    def plan_usage(self, plan: str) -> PlanUsage:
        run_hours, cycles, since = self.usage[plan]
        return PlanUsage(plan, run_hours, cycles, since)


class TpmHandler:
    kinds = frozenset({"state", "counter"})

    def __init__(
        self,
        factory: Factory,
        *,
        plans: tuple[PmPlan, ...] = DEFAULT_PLANS,
        enabled: bool = True,
        start: datetime | None = None,
    ) -> None:
        self.factory = factory
        self.enabled = enabled
        self.start = start
        self.plans = {m.id: plans_for(m.type, plans) for m in factory.machines}
        self._tx: UnitOfWork | None = None
        self._touched: dict[str, _Machine] = {}

    def _machine(self, tx: UnitOfWork, machine: str, ts: datetime) -> _Machine | None:
        if tx is not self._tx:  # a new batch: what an earlier, failed batch read is stale
            self._tx, self._touched = tx, {}
        found = self._touched.get(machine)
        if found is None:
            if machine not in self.plans:
                return None
            stored = tx.usage.usage(machine)
            since = self.start or ts
            usage = {
                plan.id: (
                    [u.run_hours, u.cycles, u.since]
                    if (u := stored.get(plan.id)) is not None
                    else [0.0, 0, since]
                )
                for plan in self.plans[machine]
            }
            found = _Machine(usage, tx.usage.processing_since(machine), ts)
            self._touched[machine] = found
        found.newest = max(found.newest, ts)
        return found

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        e = stored.event
        m = self._machine(tx, stored.machine, stored.ts)
        if m is None:
            return
        if isinstance(e, PartCounter):
            m.add(cycles=e.good + e.reject)
        elif isinstance(e, StateChanged):
            self._state(tx, e, m, out)

    def _state(self, tx: UnitOfWork, e: StateChanged, m: _Machine, out: Applied) -> None:
        if m.processing_since is not None:
            m.add(hours=max(0.0, (e.ts - m.processing_since).total_seconds() / 3600.0))
            m.processing_since = None
        if e.state == MachineState.EXECUTING and e.mode == MachineMode.PROCESSING:
            m.processing_since = e.ts
        reason = e.reason or ""
        if reason.startswith("pm:"):
            self._started(tx, reason[3:], e.ts)
        elif reason.startswith("pm_done:"):
            self._done(tx, reason[8:], e.ts, m)
        elif reason.startswith("breakdown"):
            self._renew(m, e.ts, None)

    @staticmethod
    def _renew(m: _Machine, at: datetime, plan: str | None) -> None:
        for pid, u in m.usage.items():
            m.usage[pid] = [0.0, 0, at if pid == plan else u[2]]
        m.changed = True

    def _row(self, tx: UnitOfWork, ref: str) -> dict[str, Any] | None:
        return next((r for r in tx.records.maintenance_orders() if r["id"] == ref), None)

    def _started(self, tx: UnitOfWork, ref: str, at: datetime) -> None:
        row = self._row(tx, ref)
        if row is not None and row["started"] is None:
            tx.records.save_maintenance(dict(row, started=at))

    def _done(self, tx: UnitOfWork, ref: str, at: datetime, m: _Machine) -> None:
        row = self._row(tx, ref)
        if row is None or row["status"] not in OPEN_STATUSES:
            return
        wo = maintenance_from_row(row)
        if wo.status == MaintenanceStatus.OPEN:  # done before it was planned (a repair)
            wo = wo.plan_window(min(wo.started or at, at))
        wo = wo.complete(min(wo.started or at, at), at, wo.labour_hours)
        tx.records.save_maintenance(maintenance_row(wo))
        self._renew(m, at, wo.plan or None)

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        return None

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        if tx is not self._tx:
            return
        touched, self._touched, self._tx = self._touched, {}, None
        due: list[tuple[str, PmPlan, datetime]] = []
        for machine, m in touched.items():
            if m.changed:
                for plan in m.usage:
                    tx.usage.save_usage(machine, m.plan_usage(plan))
            tx.usage.set_processing_since(machine, m.processing_since)
            if self.enabled:
                due.extend((machine, plan, m.newest) for plan in self._due(machine, m))
        if due:  # the work orders are read only when a plan came due
            self._open(tx, due, out)

    def _due(self, machine: str, m: _Machine) -> list[PmPlan]:
        """The plans of `machine` that have come due at its newest event."""
        # run hours of a machine processing right now count up to its newest event
        running = 0.0
        if m.processing_since is not None:
            running = max(0.0, (m.newest - m.processing_since).total_seconds() / 3600.0)
        out = []
        for plan in self.plans[machine]:
            u = m.plan_usage(plan.id)
            if is_due(plan, Usage(machine, u.run_hours + running, u.cycles, u.since), m.newest):
                out.append(plan)
        return out

    def _open(self, tx: UnitOfWork, due: list[tuple[str, PmPlan, datetime]], out: Applied) -> None:
        """Open and plan a work order for each due plan that has none open yet."""
        rows = tx.records.maintenance_orders()
        busy = {(r["machine"], r["plan"]) for r in rows if r["status"] in OPEN_STATUSES}
        for machine, plan, at in due:
            if (machine, plan.id) in busy:
                continue
            mtype = self.factory.machine_map[machine].type
            wo = open_pm(plan, machine, mtype, _next_id(rows, "PM"), at)
            tx.records.save_maintenance(maintenance_row(wo))
            planned = plan_window(tx, self.factory, wo, at, out)
            rows.append(maintenance_row(planned))
            busy.add((machine, plan.id))
