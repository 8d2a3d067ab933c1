"""The figures of a closed-loop run, computed from the database only: orders and their
completion times, stored machine events (OEE, losses, breakdowns, MTBF/MTTR), maintenance
work orders, planning runs and the stock ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from microfactory.maintenance.oee import (
    MachineOee,
    PartCount,
    StateSpan,
    day_periods,
    downtime_pareto,
    figures_from_ideal,
    machine_oee,
    shift_periods,
    spans_from_states,
)
from microfactory.orders import Factory, OrderStatus
from microfactory.orders.stock import MovementKind, PurchaseStatus
from microfactory.services.idle_while_late import idle_while_late, late_work
from microfactory.services.materials import mass_balance
from microfactory.services.ports import (
    EventReader,
    ExecutionRecords,
    TelemetryReader,
    UnitOfWorkFactory,
)
from microfactory.shopfloor.events import Event, JobEvent, PartCounter, StateChanged

ALL = 10**9


@dataclass
class LoopFigures:
    orders_received: int
    orders_completed: int
    orders_late: int
    on_time_rate: float | None
    events_ingested: int
    samples_stored: int
    breakdowns: int
    preventive_done: int
    predictive_done: int
    replans: int
    replans_by_trigger: dict[str, int]
    plans: int
    fleet_oee: dict[str, float]
    machines: list[dict[str, Any]]
    pareto: list[dict[str, float | int | str]]
    six_big_losses: dict[str, float]
    dead_letters: int
    oee_by_day: list[dict[str, Any]] = field(default_factory=list)
    oee_by_shift: list[dict[str, Any]] = field(default_factory=list)
    plan_adherence: dict[str, float | int | None] = field(default_factory=dict)
    oee_detail: dict[str, MachineOee] = field(default_factory=dict)
    materials: dict[str, Any] = field(default_factory=dict)
    idle_while_late: dict[str, Any] = field(default_factory=dict)


def order_figures(uow: UnitOfWorkFactory, end: datetime) -> tuple[int, int, int, float | None]:
    """received, completed, late (completed after due, or open and past due at `end`),
    on-time rate = on time / (completed + open past due)."""
    with uow() as tx:
        orders = tx.orders.find(limit=ALL)
        completed_at = {
            o.id: tx.orders.completed_at(o.id) for o in orders if o.status == OrderStatus.DONE
        }
    received = len(orders)
    completed = len(completed_at)
    late_done = sum(
        1 for o in orders if o.id in completed_at and (completed_at[o.id] or end) > o.due
    )
    open_overdue = sum(
        1
        for o in orders
        if o.status not in (OrderStatus.DONE, OrderStatus.CANCELLED) and o.due < end
    )
    judged = completed + open_overdue
    on_time = completed - late_done
    rate = round(on_time / judged, 4) if judged else None
    return received, completed, late_done + open_overdue, rate


def plan_adherence(
    rows: list[tuple[str, datetime, datetime, datetime | None]],
) -> dict[str, float | int | None]:
    """Finished operations against their plan: the share that ended within an hour of the
    latest plan, and the mean lateness against the latest and the first planned end."""
    done = [(planned, first, actual) for _, planned, first, actual in rows if actual is not None]
    if not done:
        return {"operations": 0, "within_1h": None, "mean_late_h": None, "mean_late_first_h": None}
    hour = 3600.0
    within = sum(1 for p, _, a in done if (a - p).total_seconds() <= hour)
    late = [max(0.0, (a - p).total_seconds()) / hour for p, _, a in done]
    late_first = [max(0.0, (a - f).total_seconds()) / hour for _, f, a in done]
    return {
        "operations": len(done),
        "within_1h": round(within / len(done), 4),
        "mean_late_h": round(sum(late) / len(done), 2),
        "mean_late_first_h": round(sum(late_first) / len(done), 2),
    }


def planned_run_times(uow: UnitOfWorkFactory, factory: Factory) -> dict[str, float]:
    """Operation id → planned run time per item in minutes (PRI): nominal operation minutes
    over the work-order quantity (the machine's speed factor applied later)."""
    out: dict[str, float] = {}
    with uow() as tx:
        for wo in tx.work_orders.find():
            for op in wo.operations:
                out[op.id] = op.minutes / wo.quantity
    return out


def oee_from_events(
    reader: EventReader,
    pri: dict[str, float],
    factory: Factory,
    start: datetime,
    end: datetime,
) -> dict[str, MachineOee]:
    """Per-machine OEE from stored state, job and counter events."""
    series = machine_series(reader, pri, factory, end)
    return {
        mid: machine_oee(mid, spans, counts, start, end) for mid, (spans, counts) in series.items()
    }


def machine_series(
    reader: EventReader, pri: dict[str, float], factory: Factory, end: datetime
) -> dict[str, tuple[list[StateSpan], list[PartCount]]]:
    """Per machine: its state spans and part counts (with the planned run time per part)."""
    by_machine: dict[str, list[Event]] = defaultdict(list)
    for kind in ("state", "job", "counter"):
        for e in reader.events(kind=kind, limit=ALL):
            by_machine[e.machine].append(e)
    speed = {m.id: m.speed_factor for m in factory.machines}
    out: dict[str, tuple[list[StateSpan], list[PartCount]]] = {}
    for m in factory.machines:
        events = sorted(by_machine.get(m.id, []), key=lambda e: e.seq)
        changes: list[tuple[datetime, str, str, str | None]] = []
        counts: list[PartCount] = []
        current: float = 0.0
        since: datetime | None = None
        after_setup = False
        for e in events:
            if isinstance(e, StateChanged):
                if changes and changes[-1][2] == "setup" and e.mode.value != "setup":
                    after_setup = True
                changes.append((e.ts, e.state.value, e.mode.value, e.reason))
            elif isinstance(e, JobEvent):
                if e.action == "started":
                    current = pri.get(e.operation, 0.0) / speed[m.id]
                    since = e.ts
                    after_setup = False
            elif isinstance(e, PartCounter):
                counts.append(PartCount(m.id, e.ts, e.good, e.reject, current, after_setup, since))
                since = e.ts
                after_setup = False
        out[m.id] = (spans_from_states(m.id, changes, end), counts)
    return out


def fleet_by_period(
    series: dict[str, tuple[list[StateSpan], list[PartCount]]],
    periods: list[tuple[str, datetime, datetime]],
    group: Callable[[str], str] = lambda label: label,
    *,
    empty_as_none: bool = False,
) -> list[dict[str, Any]]:
    """The whole shop's OEE per period (Σ over machines of each time and quantity); periods
    with the same `group(label)` are added up (e.g. every early shift). With `empty_as_none`,
    a period without planned time has None figures ("no data"), not 0 %."""
    grouped: dict[str, list[MachineOee]] = {}
    for label, lo, hi in periods:
        grouped.setdefault(group(label), []).extend(
            machine_oee(mid, spans, counts, lo, hi, prorate=True)
            for mid, (spans, counts) in series.items()
        )
    out: list[dict[str, Any]] = []
    for label, parts in grouped.items():
        if empty_as_none and sum(r.pbt for r in parts) <= 0:
            out.append(
                {"period": label, "oee": None, "availability": None, "performance": None}
                | {"quality": None}
            )
            continue
        f = figures_from_ideal(
            sum(r.pbt for r in parts),
            sum(r.apt for r in parts),
            sum(r.ideal for r in parts),
            sum(r.pq for r in parts),
            sum(r.gq for r in parts),
        )
        out.append(
            {
                "period": label,
                "oee": round(f.oee, 4),
                "availability": round(f.availability, 4),
                "performance": round(f.effectiveness, 4),
                "quality": round(f.quality_ratio, 4),
            }
        )
    return out


def material_figures(uow: UnitOfWorkFactory, factory: Factory) -> dict[str, Any]:
    """Material consumed and left per material (in its unit), the mass balance of the ledger,
    stock alerts and purchase orders — from the stock tables."""
    with uow() as tx:
        balance = mass_balance(tx, factory)
        alerts = tx.stock.alerts(limit=ALL)
        orders = tx.purchases.find()
        shortfalls = len(tx.stock.movements(kinds=[MovementKind.DISCREPANCY]))
    kinds: dict[str, int] = defaultdict(int)
    for a in alerts:
        kinds[a.kind] += 1
    worst = max((b.error for b in balance), default=0.0)
    return {
        "units": {b.material: b.unit for b in balance},
        "consumed": {b.material: round(b.issues, 3) for b in balance},
        "received": {b.material: round(b.receipts, 3) for b in balance},
        "stock_left": {b.material: round(b.on_hand, 3) for b in balance},
        "mass_balance": {
            "balanced": all(b.as_dict()["balanced"] for b in balance),
            "max_error": round(worst, 9),
        },
        "discrepancies": shortfalls,
        "low_stock_events": kinds.get("low_stock", 0),
        "expiry_alerts": kinds.get("expiry", 0),
        "purchase_orders": {
            "placed": len(orders),
            "received": sum(1 for o in orders if o.status == PurchaseStatus.RECEIVED),
            "open": sum(1 for o in orders if o.status == PurchaseStatus.OPEN),
        },
    }


def compute_figures(
    uow: UnitOfWorkFactory,
    records: ExecutionRecords,
    reader: TelemetryReader,
    factory: Factory,
    start: datetime,
    end: datetime,
) -> LoopFigures:
    received, completed, late, rate = order_figures(uow, end)
    pri = planned_run_times(uow, factory)
    series = machine_series(reader, pri, factory, end)
    oee = {mid: machine_oee(mid, sp, co, start, end) for mid, (sp, co) in series.items()}
    tz = factory.site.timezone
    by_day = fleet_by_period(series, day_periods(start, end, tz))
    by_shift = fleet_by_period(
        series, shift_periods(start, end, tz), group=lambda label: label.split()[-1]
    )
    machines: list[dict[str, Any]] = []
    for mid, r in oee.items():
        machines.append(
            {
                "id": mid,
                **oee_ratios(r),
                "loading": round(r.loading, 4),
                "breakdowns": r.failures,
                "mtbf_h": None if r.mtbf_hours is None else round(r.mtbf_hours, 1),
                "mttr_h": None if r.mttr_hours is None else round(r.mttr_hours, 2),
            }
        )
    pbt = sum(r.pbt for r in oee.values())
    apt = sum(r.apt for r in oee.values())
    ideal = sum(r.ideal for r in oee.values())
    pq = sum(r.pq for r in oee.values())
    gq = sum(r.gq for r in oee.values())
    fleet = figures_from_ideal(pbt, apt, ideal, pq, gq)
    losses: dict[str, float] = defaultdict(float)
    for r in oee.values():
        for k, v in r.six_big_losses().items():
            losses[k] += v
    done = records.maintenance_orders(status="done")
    runs = records.plan_runs()
    by_trigger: dict[str, int] = defaultdict(int)
    for _, trigger, _ in runs:
        if trigger != "periodic":
            by_trigger[trigger] += 1
    counts = reader.counts()
    materials = material_figures(uow, factory)
    with uow() as tx:
        waiting = late_work(tx.work_orders.find(), tx.quality.holds(), end)
    idle_late = idle_while_late(factory, {m: sp for m, (sp, _) in series.items()}, waiting)
    return LoopFigures(
        materials=materials,
        idle_while_late=idle_late,
        orders_received=received,
        orders_completed=completed,
        orders_late=late,
        on_time_rate=rate,
        events_ingested=counts.get("events", 0),
        samples_stored=counts.get("samples", 0),
        breakdowns=sum(r.failures for r in oee.values()),
        preventive_done=sum(1 for d in done if d["kind"] == "preventive"),
        predictive_done=sum(1 for d in done if d["kind"] == "predictive"),
        replans=sum(by_trigger.values()),
        replans_by_trigger=dict(sorted(by_trigger.items())),
        plans=len(runs),
        fleet_oee={
            "oee": round(fleet.oee, 4),
            "availability": round(fleet.availability, 4),
            "performance": round(fleet.effectiveness, 4),
            "quality": round(fleet.quality_ratio, 4),
        },
        machines=machines,
        pareto=downtime_pareto(oee.values()),
        six_big_losses={k: round(v, 1) for k, v in losses.items()},
        dead_letters=counts.get("dead_letters", 0),
        oee_by_day=by_day,
        oee_by_shift=by_shift,
        plan_adherence=plan_adherence(records.planned_vs_actual()),
        oee_detail=oee,
    )


def oee_ratios(r: MachineOee) -> dict[str, float | None]:
    """OEE and its three factors, rounded; all None for a machine with no planned busy time
    in the period (ISO 22400: the ratios are undefined there, not 0)."""
    f = r.figures
    values = (f.oee, f.availability, f.effectiveness, f.quality_ratio)
    keys = ("oee", "availability", "performance", "quality")
    return {k: (round(v, 4) if r.pbt > 0 else None) for k, v in zip(keys, values, strict=True)}


def oee_report(
    uow: UnitOfWorkFactory,
    reader: TelemetryReader,
    factory: Factory,
    start: datetime,
    end: datetime,
    by: str = "machine",
) -> list[dict[str, Any]]:
    """OEE from the stored events over [start, end): per machine, or for the whole shop per
    day or per shift."""
    if by not in ("machine", "day", "shift"):
        raise ValueError("by must be machine, day or shift")
    series = machine_series(reader, planned_run_times(uow, factory), factory, end)
    tz = factory.site.timezone
    if by == "day":
        return fleet_by_period(series, day_periods(start, end, tz), empty_as_none=True)
    if by == "shift":
        return fleet_by_period(series, shift_periods(start, end, tz), empty_as_none=True)
    out: list[dict[str, Any]] = []
    for mid, (spans, counts) in series.items():
        r = machine_oee(mid, spans, counts, start, end)
        out.append(
            {
                "machine": mid,
                **oee_ratios(r),
                "loading": round(r.loading, 4),
                "breakdowns": r.failures,
                "mtbf_h": None if r.mtbf_hours is None else round(r.mtbf_hours, 1),
                "mttr_h": None if r.mttr_hours is None else round(r.mttr_hours, 2),
                "losses_minutes": r.six_big_losses(),
            }
        )
    return out
