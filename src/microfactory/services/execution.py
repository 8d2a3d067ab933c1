"""Execution (MES core): the dispatcher releases operations of the current plan to machines,
job events move work orders and operations through their states, planned versus actual is
kept, and a breakdown, a repair, a rush order or a maintenance window calls `replan`.

The dispatcher keeps a mirror of the open work in memory (one shop, one dispatcher) and
writes every change through the unit of work, so the database always shows the shop's state.
Machines (or the twin) ask `next_job(machine, now)`; their job and state events come back
through `on_event`.
"""

from __future__ import annotations

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
from microfactory.services.loop_planning import LoopPlanner
from microfactory.services.orders import release_order
from microfactory.services.planning import EventKind, ReplanEvent
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory
from microfactory.shopfloor.events import JobEvent, StateChanged
from microfactory.twin.jobs import TwinJob


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
        planner: LoopPlanner,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.factory = factory
        self.planner = planner
        self.dirty = False
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
        self.take(work_orders)
        return work_orders

    def take(self, work_orders: list[WorkOrder]) -> None:
        """Take released work orders into the mirror (they are planned at the next run)."""
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
        self.dirty = True

    # -- planning --------------------------------------------------------------------------

    def replan(
        self, now: datetime, trigger: str, reason: str = "", event: ReplanEvent | None = None
    ) -> int:
        """Plan every open operation again from `now`; returns the operations planned."""
        self.stats.replans += 1
        self.stats.replans_by_trigger[trigger] = self.stats.replans_by_trigger.get(trigger, 0) + 1
        return self._plan(now, trigger, reason, event)

    def plan_periodic(self, now: datetime) -> int:
        """The regular planning run; skipped when nothing arrived since the last plan."""
        if not self.dirty:
            return 0
        self.stats.plans += 1
        return self._plan(now, "periodic", "", None)

    def _plan(self, now: datetime, trigger: str, reason: str, event: ReplanEvent | None) -> int:
        self.flush()
        began = time.perf_counter()
        if event is None:
            planned, solver, tardiness = self.planner.plan(now, reason or trigger)
        else:
            planned, solver, tardiness = self.planner.replan(event)
        seconds = time.perf_counter() - began
        self.stats.plan_seconds += seconds
        self.dirty = False
        self.plan_no += 1
        rows: list[tuple[str, str, str, datetime, datetime]] = []
        newly_released: list[OpState] = []
        self.plan = {}
        for p in planned:
            op = self.ops.get(p.operation)
            if op is None:
                continue
            self.plan[op.id] = (p.machine, p.start, p.end)
            rows.append((op.id, op.work_order, p.machine, p.start, p.end))
            if op.status == WorkStatus.PLANNED:
                op.status = WorkStatus.RELEASED
                newly_released.append(op)
        self._rebuild_queues()
        self._persist_release(newly_released)
        self.flush()
        self.store.save_plan(self.plan_no, rows)
        self.store.log_plan_run(now, trigger, reason, len(rows), solver, seconds, tardiness)
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
        the dispatcher's mirror is authoritative, the database follows within a tick and
        before every planning run)."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        # an operation updated several times since the last flush is written once
        last = {c.op.id: i for i, c in enumerate(pending) if isinstance(c, _UpdateOp)}
        pending = [
            c for i, c in enumerate(pending) if not isinstance(c, _UpdateOp) or last[c.op.id] == i
        ]
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
            event = ReplanEvent(
                EventKind.MACHINE_DOWN,
                e.ts,
                machine=e.machine,
                until=st.expected_back,
                reason=reason,
            )
            self.replan(e.ts, "breakdown", f"{e.machine} {reason}", event)
        elif reason == "repaired":
            st.down_since = None
            st.expected_back = None
            back = ReplanEvent(EventKind.MACHINE_BACK, e.ts, machine=e.machine, reason="repaired")
            self.replan(e.ts, "repair", f"{e.machine} repaired", back)

    # -- maintenance windows ---------------------------------------------------------------

    def add_maintenance_window(
        self, machine: str, start: datetime, end: datetime, ref: str, now: datetime
    ) -> None:
        """A PM / PdM window: the machine is unavailable; the plan is made again around it."""
        self.maintenance.setdefault(machine, []).append((start, end, ref))
        self.planner.add_window(machine, start, end, ref)
        self.replan(now, "maintenance_window", f"{machine} {ref}")

    # -- holds -----------------------------------------------------------------------------

    def hold_lot(self, lot: str, now: datetime) -> None:
        """Stop dispatching the lot's work; the plan is made again without it."""
        self.held_lots.add(lot)
        self.planner.set_held(self.held_lots)
        self.replan(now, "quality_hold", lot)

    def release_lot(self, lot: str, now: datetime) -> None:
        self.held_lots.discard(lot)
        self.planner.set_held(self.held_lots)
        self.dirty = True
        self.replan(now, "hold_released", lot)


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
