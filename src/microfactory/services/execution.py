"""Execution (MES core): the dispatcher releases operations of the current plan to machines,
job events move work orders and operations through their states, planned versus actual is
kept, and a breakdown, a repair, a rush order or a maintenance window calls `replan`.

The dispatcher keeps a mirror of the open work in memory (one shop, one dispatcher) and
writes every change through the unit of work, so the database always shows the shop's state.
Machines (or the twin) ask `next_job(machine, now)`; their job and state events come back
through `on_event`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from microfactory.orders import (
    Factory,
    OrderStatus,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.orders.products import Characteristic
from microfactory.planning.model import (
    FrozenOp,
    Job,
    Mode,
    Objective,
    Operation,
    Problem,
)
from microfactory.planning.model import Machine as PlanMachine
from microfactory.planning.model import Window as PlanWindow
from microfactory.planning.result import ScheduleResult
from microfactory.services.orders import release_order
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory
from microfactory.shopfloor.events import JobEvent, StateChanged
from microfactory.twin.jobs import TwinJob

HORIZON_DAYS = 45
Planner = Callable[[Problem], ScheduleResult]


class ExecutionStore(Protocol):
    """Port: where plans, planning runs and maintenance work orders are kept."""

    def save_plan(
        self, plan_no: int, rows: Sequence[tuple[str, str, str, datetime, datetime]]
    ) -> None: ...

    def log_plan_run(
        self,
        at: datetime,
        trigger: str,
        reason: str,
        operations: int,
        solver: str,
        seconds: float,
        weighted_tardiness: int,
    ) -> int: ...


def default_planner(time_limit: float = 0.0) -> Planner:
    """The planning engine: the best dispatching rule, improved by LNS when given time."""

    def plan(problem: Problem) -> ScheduleResult:
        from microfactory.planning.solver import solve

        return solve(
            problem,
            Objective.TARDINESS_THEN_MAKESPAN,
            time_limit=time_limit,
            workers=1,
            monolithic_share=0.0,
        )

    return plan


@dataclass
class OpState:
    id: str
    work_order: str
    seq: int
    capability: str
    minutes: float
    fixed_minutes: float
    per_unit_minutes: float
    setup_family: str | None
    machines: tuple[str, ...]
    predecessors: tuple[int, ...]
    produces: bool
    characteristics: tuple[Characteristic, ...]
    status: WorkStatus = WorkStatus.PLANNED
    machine: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    good: int = 0
    reject: int = 0


@dataclass
class WoState:
    wo: WorkOrder
    ops: dict[int, OpState]
    status: WorkStatus = WorkStatus.PLANNED


@dataclass
class MachineStatus:
    down_since: datetime | None = None
    expected_back: datetime | None = None
    running: str | None = None


@dataclass
class ExecutionStats:
    plans: int = 0
    replans: int = 0
    replans_by_trigger: dict[str, int] = field(default_factory=dict)
    plan_seconds: float = 0.0
    dispatched: int = 0
    finished: int = 0


class Execution:
    """One shop's dispatcher. `wake` is called when new work may be ready for machines."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: ExecutionStore,
        factory: Factory,
        *,
        planner: Planner | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.factory = factory
        self.planner = planner or default_planner()
        self.wake = wake or (lambda: None)
        self.machines = {m.id: m for m in factory.machines}
        self.work: dict[str, WoState] = {}
        self.ops: dict[str, OpState] = {}
        self.plan: dict[str, tuple[str, datetime, datetime]] = {}
        self.queues: dict[str, list[str]] = {m: [] for m in self.machines}
        self.status: dict[str, MachineStatus] = {m: MachineStatus() for m in self.machines}
        self.maintenance: dict[str, list[tuple[datetime, datetime, str]]] = {}
        self.held_lots: set[str] = set()
        self.order_open: dict[str, set[str]] = {}
        self.stats = ExecutionStats()
        self.plan_no = 0
        self.orders_started: set[str] = set()
        self.orders_done = 0
        self._pending: list[_Change] = []

    # -- intake ----------------------------------------------------------------------------

    def admit(self, order_id: str, at: datetime) -> list[WorkOrder]:
        """Release a confirmed order into work orders and take them into the mirror."""
        self.flush()
        with self.uow() as tx:
            work_orders = release_order(tx, order_id, at)
            tx.commit()
        products = self.factory.product_map
        for wo in work_orders:
            product = products[wo.product]
            ops: dict[int, OpState] = {}
            for op in wo.operations:
                routing = product.operation(op.seq)
                chars = tuple(c for c in product.characteristics if c.operation == op.seq)
                state = OpState(
                    id=op.id,
                    work_order=wo.id,
                    seq=op.seq,
                    capability=op.capability,
                    minutes=op.minutes,
                    fixed_minutes=routing.fixed_minutes,
                    per_unit_minutes=routing.per_unit_minutes,
                    setup_family=op.setup_family,
                    machines=tuple(
                        m.id for m in self.factory.eligible_machines(op.capability, op.machines)
                    ),
                    predecessors=op.predecessors,
                    produces=not op.predecessors and not routing.inspection,
                    characteristics=chars,
                )
                ops[op.seq] = state
                self.ops[op.id] = state
            self.work[wo.id] = WoState(wo, ops)
            self.order_open.setdefault(wo.order, set()).add(wo.id)
        return work_orders

    # -- planning --------------------------------------------------------------------------

    def replan(self, now: datetime, trigger: str, reason: str = "") -> int:
        """Plan every open operation again from `now`; returns the operations planned."""
        self.stats.replans += 1
        self.stats.replans_by_trigger[trigger] = self.stats.replans_by_trigger.get(trigger, 0) + 1
        return self._plan(now, trigger, reason)

    def plan_periodic(self, now: datetime) -> int:
        self.stats.plans += 1
        return self._plan(now, "periodic", "")

    def _plan(self, now: datetime, trigger: str, reason: str) -> int:
        began = time.perf_counter()
        built = self.build_problem(now)
        if built is None:
            return 0
        problem, op_ids = built
        result = self.planner(problem)
        seconds = time.perf_counter() - began
        self.stats.plan_seconds += seconds
        if not result.has_plan:
            self.store.log_plan_run(
                now, trigger, f"no plan: {result.reason}", 0, result.solver, seconds, 0
            )
            return 0
        machine_ids = list(self.machines)
        self.plan_no += 1
        rows: list[tuple[str, str, str, datetime, datetime]] = []
        newly_released: list[OpState] = []
        for a in result.assignments:
            op = self.ops[op_ids[a.op]]
            machine = machine_ids[a.machine]
            start = now + timedelta(minutes=a.start)
            end = now + timedelta(minutes=a.end)
            self.plan[op.id] = (machine, start, end)
            rows.append((op.id, op.work_order, machine, start, end))
            if op.status == WorkStatus.PLANNED:
                op.status = WorkStatus.RELEASED
                newly_released.append(op)
        self._rebuild_queues()
        self._persist_release(newly_released)
        self.store.save_plan(self.plan_no, rows)
        self.store.log_plan_run(
            now,
            trigger,
            reason,
            len(rows),
            result.solver,
            seconds,
            int(result.weighted_tardiness or 0),
        )
        self.wake()
        return len(rows)

    def _rebuild_queues(self) -> None:
        queues: dict[str, list[tuple[datetime, str]]] = {m: [] for m in self.machines}
        for op_id, (machine, start, _end) in self.plan.items():
            if self.ops[op_id].status == WorkStatus.RELEASED:
                queues[machine].append((start, op_id))
        self.queues = {m: [op for _, op in sorted(q)] for m, q in queues.items()}

    def _persist_release(self, ops: list[OpState]) -> None:
        for op in ops:
            self._pending.append(_UpdateOp(self._domain_op(op)))
            ws = self.work[op.work_order]
            if ws.status == WorkStatus.PLANNED:
                ws.status = WorkStatus.RELEASED
                self._pending.append(_WoStatus(ws.wo.id, WorkStatus.RELEASED))

    def flush(self) -> int:
        """Write the changes kept since the last flush in one transaction (write-behind:
        the dispatcher's mirror is authoritative, the database follows within a tick)."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        with self.uow() as tx:
            for change in pending:
                change.apply(tx)
            tx.commit()
        return len(pending)

    def _domain_op(self, op: OpState) -> WorkOrderOperation:
        base = next(o for o in self.work[op.work_order].wo.operations if o.id == op.id)
        return replace(
            base,
            status=op.status,
            machine=op.machine,
            actual_start=op.started,
            actual_end=op.ended,
            good=op.good,
            rejected=op.reject,
        )

    def build_problem(self, now: datetime) -> tuple[Problem, list[str]] | None:
        """The open operations as a scheduling problem in minutes from `now`."""
        horizon = now + timedelta(days=HORIZON_DAYS)
        machine_ids = list(self.machines)
        index = {m: i for i, m in enumerate(machine_ids)}
        open_ops = [
            op
            for op in self.ops.values()
            if op.status in (WorkStatus.PLANNED, WorkStatus.RELEASED)
            and self.work[op.work_order].wo.lot not in self.held_lots
        ]
        if not open_ops:
            return None
        busy_until = self._busy_until(now)
        machines = tuple(
            self._plan_machine(mid, now, horizon, busy_until.get(mid), open_ops)
            for mid in machine_ids
        )
        jobs: list[Job] = []
        job_index: dict[str, int] = {}
        operations: list[Operation] = []
        op_ids: list[str] = []
        op_index: dict[str, int] = {}
        for op in sorted(open_ops, key=lambda o: (o.work_order, o.seq)):
            ws = self.work[op.work_order]
            if ws.wo.id not in job_index:
                job_index[ws.wo.id] = len(jobs)
                release = ws.wo.release or now
                jobs.append(
                    Job(
                        name=ws.wo.id,
                        release=max(0, _minutes(release - now)),
                        due=max(0, _minutes(ws.wo.due - now)),
                        weight=max(1, ws.wo.weight),
                    )
                )
            est = 0
            for p in op.predecessors:
                pred = ws.ops[p]
                if pred.status == WorkStatus.RUNNING:
                    end = self._expected_end(pred, now)
                    est = max(est, _minutes(end - now))
            modes = tuple(
                Mode(index[m], max(1, math.ceil(op.minutes / self.machines[m].speed_factor)))
                for m in op.machines
            )
            op_index[op.id] = len(operations)
            op_ids.append(op.id)
            operations.append(
                Operation(
                    job=job_index[ws.wo.id],
                    modes=modes,
                    name=op.id,
                    family=op.setup_family or "",
                    release=est,
                )
            )
        precedences: list[tuple[int, int]] = []
        for op in open_ops:
            for p in op.predecessors:
                pred = self.work[op.work_order].ops[p]
                if pred.id in op_index:
                    precedences.append((op_index[pred.id], op_index[op.id]))
        frozen: tuple[FrozenOp, ...] = ()
        problem = Problem(
            machines=machines,
            jobs=tuple(jobs),
            operations=tuple(operations),
            precedences=tuple(precedences),
            frozen=frozen,
            name=f"plan@{now.isoformat()}",
        )
        return problem, op_ids

    def _expected_end(self, op: OpState, now: datetime) -> datetime:
        if op.machine is None or op.started is None:
            return now
        nominal = op.minutes / self.machines[op.machine].speed_factor
        end = op.started + timedelta(minutes=nominal)
        status = self.status[op.machine]
        if status.expected_back is not None and status.expected_back > end:
            end = status.expected_back + timedelta(minutes=nominal * 0.5)
        return max(end, now + timedelta(minutes=1))

    def _busy_until(self, now: datetime) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for mid, st in self.status.items():
            until = now
            if st.running is not None:
                until = max(until, self._expected_end(self.ops[st.running], now))
            if st.expected_back is not None:
                until = max(until, st.expected_back)
            if until > now:
                out[mid] = until
        return out

    def _plan_machine(
        self,
        mid: str,
        now: datetime,
        horizon: datetime,
        busy_until: datetime | None,
        open_ops: list[OpState],
    ) -> PlanMachine:
        m = self.machines[mid]
        cuts: list[tuple[int, int]] = []
        if not m.calendar.always_on:
            t = now
            for w in m.calendar.working_windows(now, horizon):
                if w.start > t:
                    cuts.append((_minutes(t - now), _minutes(w.start - now)))
                t = w.end
            if t < horizon:
                cuts.append((_minutes(t - now), _minutes(horizon - now) + 1))
        if busy_until is not None:
            cuts.append((0, max(1, _minutes(busy_until - now))))
        for start, end, _ref in self.maintenance.get(mid, []):
            if end > now:
                cuts.append((max(0, _minutes(start - now)), max(1, _minutes(end - now))))
        windows = tuple(PlanWindow(s, e) for s, e in _merge(cuts))
        families = sorted(
            {op.setup_family for op in open_ops if op.setup_family and mid in op.machines}
        )
        setups: dict[tuple[str, str], int] = {}
        if m.setup_minutes > 0 or m.setup_matrix:
            for a in families:
                for b in families:
                    if a != b:
                        setups[(a, b)] = math.ceil(m.setup_time_minutes(a, b))
        return PlanMachine(name=mid, unavailable=windows, setups=setups)

    # -- dispatching -----------------------------------------------------------------------

    def next_job(self, machine: str, now: datetime) -> TwinJob | None:
        """The first operation in this machine's plan sequence that is ready now."""
        if self.status[machine].running is not None or self.status[machine].down_since:
            return None
        for op_id in self.queues.get(machine, []):
            op = self.ops[op_id]
            if op.status != WorkStatus.RELEASED:
                continue
            ws = self.work[op.work_order]
            if ws.wo.lot in self.held_lots:
                continue
            if ws.wo.release is not None and ws.wo.release > now:
                continue
            preds = [ws.ops[p] for p in op.predecessors]
            if any(p.status != WorkStatus.DONE for p in preds):
                continue
            if self._maintenance_due(machine, now, op):
                return None
            quantity = min((p.good for p in preds), default=ws.wo.quantity)
            self.stats.dispatched += 1
            return TwinJob(
                operation=op.id,
                work_order=ws.wo.id,
                lot=ws.wo.lot,
                quantity=quantity,
                fixed_minutes=op.fixed_minutes,
                per_unit_minutes=op.per_unit_minutes,
                setup_family=op.setup_family,
                produces=op.produces,
                characteristics=op.characteristics,
            )
        return None

    def _maintenance_due(self, machine: str, now: datetime, op: OpState) -> bool:
        """True when a planned maintenance window starts before this operation would end."""
        nominal = timedelta(minutes=op.minutes / self.machines[machine].speed_factor)
        return any(
            start <= now + nominal and end > now
            for start, end, _ in self.maintenance.get(machine, [])
        )

    # -- events ----------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        """Apply a machine's job or state event."""
        if isinstance(event, JobEvent):
            if event.action == "started":
                self._started(event)
            elif event.action == "finished":
                self._finished(event)
        elif isinstance(event, StateChanged):
            self._state(event)

    def _started(self, e: JobEvent) -> None:
        op = self.ops.get(e.operation)
        if op is None:
            return
        op.status = WorkStatus.RUNNING
        op.machine = e.machine
        op.started = e.ts
        self.status[e.machine].running = op.id
        ws = self.work[op.work_order]
        self._pending.append(_UpdateOp(self._domain_op(op)))
        if ws.status != WorkStatus.RUNNING:
            if ws.status == WorkStatus.PLANNED:
                self._pending.append(_WoStatus(ws.wo.id, WorkStatus.RELEASED))
            ws.status = WorkStatus.RUNNING
            self._pending.append(_WoStatus(ws.wo.id, WorkStatus.RUNNING))
            if ws.wo.order not in self.orders_started:
                self.orders_started.add(ws.wo.order)
                self._pending.append(
                    _OrderStatus(ws.wo.order, OrderStatus.IN_PRODUCTION, e.ts, "production started")
                )

    def _finished(self, e: JobEvent) -> None:
        op = self.ops.get(e.operation)
        if op is None:
            return
        op.status = WorkStatus.DONE
        op.ended = e.ts
        op.good, op.reject = e.good, e.reject
        self.stats.finished += 1
        if self.status[e.machine].running == op.id:
            self.status[e.machine].running = None
        ws = self.work[op.work_order]
        self._pending.append(_UpdateOp(self._domain_op(op)))
        if all(o.status == WorkStatus.DONE for o in ws.ops.values()):
            ws.status = WorkStatus.DONE
            self._pending.append(_WoStatus(ws.wo.id, WorkStatus.DONE))
            left = self.order_open[ws.wo.order]
            left.discard(ws.wo.id)
            if not left:
                self.orders_done += 1
                self._pending.append(
                    _OrderStatus(ws.wo.order, OrderStatus.DONE, e.ts, "all work orders done")
                )
        if ws.status == WorkStatus.DONE:
            for o in ws.ops.values():
                self.ops.pop(o.id, None)
                self.plan.pop(o.id, None)
            del self.work[ws.wo.id]
        self.plan.pop(op.id, None)
        queue = self.queues.get(e.machine, [])
        if op.id in queue:
            queue.remove(op.id)
        self.wake()

    def _state(self, e: StateChanged) -> None:
        st = self.status[e.machine]
        reason = e.reason or ""
        if reason.startswith("breakdown"):
            st.down_since = e.ts
            st.expected_back = e.ts + timedelta(hours=self.machines[e.machine].mttr_hours)
            self.replan(e.ts, "breakdown", f"{e.machine} {reason}")
        elif reason == "repaired":
            st.down_since = None
            st.expected_back = None
            self.replan(e.ts, "repair", f"{e.machine} repaired")

    # -- maintenance windows ---------------------------------------------------------------

    def add_maintenance_window(
        self, machine: str, start: datetime, end: datetime, ref: str, now: datetime
    ) -> None:
        """A PM / PdM window: the machine is unavailable; the plan is made again around it."""
        self.maintenance.setdefault(machine, []).append((start, end, ref))
        self.replan(now, "maintenance_window", f"{machine} {ref}")

    def maintenance_finished(self, machine: str, ref: str) -> None:
        self.maintenance[machine] = [w for w in self.maintenance.get(machine, []) if w[2] != ref]

    # -- holds -----------------------------------------------------------------------------

    def hold_lot(self, lot: str, now: datetime) -> None:
        self.held_lots.add(lot)
        self.replan(now, "quality_hold", lot)

    def release_lot(self, lot: str, now: datetime) -> None:
        self.held_lots.discard(lot)
        self.replan(now, "hold_released", lot)

    @property
    def open_operations(self) -> int:
        return sum(1 for op in self.ops.values() if op.status != WorkStatus.DONE)


class _Change(Protocol):
    def apply(self, tx: UnitOfWork) -> None: ...


@dataclass(frozen=True)
class _UpdateOp:
    op: WorkOrderOperation

    def apply(self, tx: UnitOfWork) -> None:
        tx.work_orders.update_operation(self.op)


@dataclass(frozen=True)
class _WoStatus:
    work_order: str
    status: WorkStatus

    def apply(self, tx: UnitOfWork) -> None:
        tx.work_orders.set_status(self.work_order, self.status)


@dataclass(frozen=True)
class _OrderStatus:
    order: str
    status: OrderStatus
    at: datetime
    note: str

    def apply(self, tx: UnitOfWork) -> None:
        tx.orders.set_status(self.order, self.status, self.at, self.note)


def _minutes(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds() / 60.0)


def _merge(cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted((max(0, s), e) for s, e in cuts if e > max(0, s)):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
