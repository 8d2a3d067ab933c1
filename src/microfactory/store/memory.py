"""In-memory implementations of the repository ports, for tests and what-if runs. They keep
the same contract as the SQL ones (the shared contract tests prove it), including
transactions: work is staged on a copy and only becomes visible on commit."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any

from microfactory.core.errors import Conflict, NotFound
from microfactory.orders import (
    Customer,
    Factory,
    OperationState,
    Order,
    OrderStatus,
    SerialNumber,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.orders.orders import ORDER_TRANSITIONS, WORK_TRANSITIONS, check_transition
from microfactory.orders.progress import (
    OperationProgress,
    OrderProgress,
    ProgressSnapshot,
    WorkOrderProgress,
)
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.records import (
    PlanUsage,
    ReactorProgress,
    Rejection,
    ReplanRequest,
    StoredEvent,
)
from microfactory.store.memory_stock import (
    MemoryPurchaseRepository,
    MemoryStockRepository,
    MemoryStockState,
)
from microfactory.store.pins_store import MemoryPinRepository, MemoryPinState
from microfactory.store.planning_sql import MemoryPlanStore
from microfactory.store.quality_store import MemoryQualityStore


@dataclass
class MemoryState:
    factory: Factory | None = None
    definition: dict[str, Any] | None = None
    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    timelines: dict[str, list[tuple[OrderStatus, datetime, str]]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    completed: dict[str, datetime] = field(default_factory=dict)
    work_orders: dict[str, WorkOrder] = field(default_factory=dict)
    serials: dict[str, SerialNumber] = field(default_factory=dict)
    quality: MemoryQualityStore = field(default_factory=MemoryQualityStore)
    plans: MemoryPlanStore = field(default_factory=MemoryPlanStore)
    maintenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    op_plans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    plan_runs: list[tuple[datetime, str, str]] = field(default_factory=list)
    usage: dict[tuple[str, str], PlanUsage] = field(default_factory=dict)
    processing: dict[str, datetime | None] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    cursors: dict[str, ReactorProgress] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    replans: list[tuple[ReplanRequest, datetime | None, int | None]] = field(default_factory=list)
    stock: MemoryStockState = field(default_factory=MemoryStockState)
    pins: MemoryPinState = field(default_factory=MemoryPinState)


class MemoryFactoryRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def current(self) -> Factory | None:
        return self.st.factory

    def save(self, factory: Factory, definition: Mapping[str, Any], source_file: str) -> None:
        self.st.factory = factory
        self.st.definition = copy.deepcopy(dict(definition))
        for c in factory.customers:
            self.st.customers[c.id] = c

    def definition(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.st.definition)


class MemoryOrderRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def add(self, order: Order, note: str = "") -> None:
        if order.id in self.st.orders:
            raise Conflict(f"order {order.id} already exists")
        self.st.orders[order.id] = order
        self.st.timelines[order.id] = [(order.status, order.created, note)]

    def get(self, order_id: str) -> Order:
        try:
            return self.st.orders[order_id]
        except KeyError:
            raise NotFound(f"order {order_id} does not exist") from None

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        return {i: self.st.orders[i] for i in order_ids if i in self.st.orders}

    def line_models(self, order_ids: Sequence[str]) -> dict[tuple[str, int], str]:
        return {
            (i, n): line.model_ref
            for i in order_ids
            if i in self.st.orders
            for n, line in enumerate(self.st.orders[i].lines, start=1)
            if line.model_ref
        }

    def find(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        customer: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Order]:
        rows = sorted(self.st.orders.values(), key=lambda o: (o.created, o.id))
        if status:
            rows = [o for o in rows if o.status in status]
        if customer:
            rows = [o for o in rows if o.customer == customer]
        return rows[offset : offset + limit]

    def count(self, *, status: Sequence[OrderStatus] | None = None) -> int:
        return sum(1 for o in self.st.orders.values() if not status or o.status in status)

    def set_status(self, order_id: str, status: OrderStatus, at: datetime, note: str = "") -> Order:
        order = self.get(order_id)
        check_transition(ORDER_TRANSITIONS, order.status, status, f"order {order_id}")
        if status != order.status:
            order = replace(order, status=status)
            self.st.orders[order_id] = order
            self.st.timelines[order_id].append((status, at, note))
            if status == OrderStatus.DONE:
                self.st.completed[order_id] = at
        return order

    def timeline(self, order_id: str) -> list[tuple[OrderStatus, datetime, str]]:
        self.get(order_id)
        return sorted(self.st.timelines[order_id], key=lambda e: e[1])

    def set_tracking_token(self, order_id: str, token: str) -> None:
        self.get(order_id)
        if token in self.st.tokens and self.st.tokens[token] != order_id:
            raise Conflict("tracking token already in use")
        self.st.tokens[token] = order_id

    def by_tracking_token(self, token: str) -> Order:
        if token not in self.st.tokens:
            raise NotFound("unknown tracking link")
        return self.get(self.st.tokens[token])

    def completed_at(self, order_id: str) -> datetime | None:
        self.get(order_id)
        return self.st.completed.get(order_id)

    def revise(self, order: Order, at: datetime, note: str) -> Order:
        stored = self.get(order.id)
        revised = replace(
            stored,
            due=order.due,
            priority=order.priority,
            rush=order.rush,
            notes=order.notes,
            lines=order.lines,
        )
        self.st.orders[order.id] = revised
        self.st.timelines[order.id].append((stored.status, at, note))
        return revised


class MemoryWorkOrderRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def add(self, work_order: WorkOrder) -> None:
        if work_order.id in self.st.work_orders:
            raise Conflict(f"work order {work_order.id} already exists")
        self.st.work_orders[work_order.id] = work_order

    def get(self, work_order_id: str) -> WorkOrder:
        try:
            return self.st.work_orders[work_order_id]
        except KeyError:
            raise NotFound(f"work order {work_order_id} does not exist") from None

    def get_many(self, work_order_ids: Sequence[str]) -> dict[str, WorkOrder]:
        return {i: self.st.work_orders[i] for i in work_order_ids if i in self.st.work_orders}

    def find(
        self,
        *,
        status: Sequence[WorkStatus] | None = None,
        order: str | None = None,
        running_on: str | None = None,
    ) -> list[WorkOrder]:
        rows = sorted(self.st.work_orders.values(), key=lambda w: (w.due, w.id))
        if status:
            rows = [w for w in rows if w.status in status]
        if order:
            rows = [w for w in rows if w.order == order]
        if running_on is not None:
            rows = [
                w
                for w in rows
                if any(
                    op.machine == running_on and op.status == WorkStatus.RUNNING
                    for op in w.operations
                )
            ]
        return rows

    def set_status(self, work_order_id: str, status: WorkStatus) -> WorkOrder:
        wo = self.get(work_order_id)
        check_transition(WORK_TRANSITIONS, wo.status, status, f"work order {work_order_id}")
        wo = replace(wo, status=status)
        self.st.work_orders[work_order_id] = wo
        return wo

    def set_terms(self, work_order_id: str, due: datetime, weight: int) -> WorkOrder:
        wo = self.get(work_order_id)
        release = wo.release if wo.release is None or wo.release <= due else due
        wo = replace(wo, due=due, weight=weight, release=release)
        self.st.work_orders[work_order_id] = wo
        return wo

    def set_line(self, work_order_id: str, line_no: int) -> WorkOrder:
        wo = replace(self.get(work_order_id), line_no=line_no)
        self.st.work_orders[work_order_id] = wo
        return wo

    def update_operation(self, operation: WorkOrderOperation) -> None:
        wo = self.get(operation.work_order)
        if not any(op.id == operation.id for op in wo.operations):
            raise NotFound(f"operation {operation.id} does not exist")
        ops = tuple(operation if op.id == operation.id else op for op in wo.operations)
        self.st.work_orders[wo.id] = replace(wo, operations=ops)

    def get_operation(self, operation_id: str) -> WorkOrderOperation:
        for wo in self.st.work_orders.values():
            for op in wo.operations:
                if op.id == operation_id:
                    return op
        raise NotFound(f"operation {operation_id} does not exist")

    def operation_states(
        self, operation_ids: Sequence[str], *, running_on: str | None = None
    ) -> dict[str, OperationState]:
        wanted = set(operation_ids)
        return {
            op.id: OperationState(
                op.status, op.machine, op.good, op.rejected, op.actual_start, wo.status, wo.id
            )
            for wo in self.st.work_orders.values()
            for op in wo.operations
            if op.id in wanted
            or (
                running_on is not None
                and op.machine == running_on
                and op.status == WorkStatus.RUNNING
            )
        }


class MemoryCustomerRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def find(self) -> list[Customer]:
        return sorted(self.st.customers.values(), key=lambda c: c.id)

    def get(self, customer_id: str) -> Customer:
        try:
            return self.st.customers[customer_id]
        except KeyError:
            raise NotFound(f"customer {customer_id} does not exist") from None


class MemoryTraceRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def add_serial(self, serial: SerialNumber) -> None:
        if serial.serial in self.st.serials:
            raise Conflict(f"serial {serial.serial} already exists")
        self.st.serials[serial.serial] = serial

    def serials(self, work_order: str) -> list[SerialNumber]:
        return self.serials_of([work_order])

    def serial(self, serial: str) -> SerialNumber | None:
        return self.st.serials.get(serial)

    def serials_of(self, work_orders: Collection[str]) -> list[SerialNumber]:
        wanted = set(work_orders)
        return sorted(
            (s for s in self.st.serials.values() if s.work_order in wanted),
            key=lambda s: (s.work_order, s.serial),
        )

    def work_orders_of_lot(self, lot: str) -> list[str]:
        return sorted(wo.id for wo in self.st.work_orders.values() if wo.lot == lot)


class MemoryExecutionRecords:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def save_plan(
        self, plan_no: int, rows: Sequence[tuple[str, str, str, datetime, datetime]]
    ) -> None:
        for op, _wo, _machine, _start, end in rows:
            first = self.st.op_plans.get(op, (end, end))[1]
            self.st.op_plans[op] = (end, first)

    def log_plan_run(
        self,
        at: datetime,
        trigger: str,
        reason: str,
        operations: int,
        solver: str,
        seconds: float,
        weighted_tardiness: int,
    ) -> int:
        self.st.plan_runs.append((at, trigger, reason))
        return len(self.st.plan_runs)

    def plan_runs(self) -> list[tuple[datetime, str, str]]:
        return list(self.st.plan_runs)

    def planned_vs_actual(self) -> list[tuple[str, datetime, datetime, datetime | None]]:
        actual = {
            op.id: op.actual_end for wo in self.st.work_orders.values() for op in wo.operations
        }
        return [
            (op, end, first, actual.get(op))
            for op, (end, first) in self.st.op_plans.items()
            if op in actual
        ]

    def save_maintenance(self, row: Mapping[str, Any]) -> None:
        self.st.maintenance[row["id"]] = dict(row)

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]:
        rows = sorted(self.st.maintenance.values(), key=lambda r: (r["created"], r["id"]))
        return [dict(r) for r in rows if status is None or r["status"] == status]


class MemoryUsageRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def usage(self, machine: str) -> dict[str, PlanUsage]:
        return {plan: u for (m, plan), u in self.st.usage.items() if m == machine}

    def save_usage(self, machine: str, usage: PlanUsage) -> None:
        self.st.usage[(machine, usage.plan)] = usage

    def processing_since(self, machine: str) -> datetime | None:
        return self.st.processing.get(machine)

    def set_processing_since(self, machine: str, at: datetime | None) -> None:
        self.st.processing[machine] = at


class MemoryEventLog:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def after(self, position: int, limit: int) -> list[StoredEvent]:
        return [e for e in self.st.events if e.position > position][:limit]

    def last_position(self) -> int:
        return self.st.events[-1].position if self.st.events else 0


class MemoryReactorLedger:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def lock(self, name: str) -> ReactorProgress:
        return self.progress(name)

    def progress(self, name: str) -> ReactorProgress:
        return self.st.cursors.get(name, ReactorProgress(0, 0, 0))

    def advance(self, name: str, progress: ReactorProgress) -> None:
        self.st.cursors[name] = progress

    def reject(self, rejection: Rejection) -> None:
        self.st.rejections.append(rejection)

    def rejections(
        self, *, machine: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Rejection]:
        mine = [
            r
            for r in self.st.rejections
            if (machine is None or r.machine == machine)
            and (event_id is None or r.event_id == event_id)
        ]
        return list(reversed(mine))[:limit]


class MemoryReplanQueue:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def request(self, at: datetime, trigger: str, reason: str = "") -> None:
        self.st.replans.append(
            (ReplanRequest(len(self.st.replans) + 1, at, trigger, reason), None, None)
        )

    def pending(self) -> list[ReplanRequest]:
        return [r for r, done, _ in self.st.replans if done is None]

    def mark_done(self, ids: Sequence[int], at: datetime, plan_version: int | None) -> None:
        wanted = set(ids)
        self.st.replans = [
            (r, at, plan_version) if r.id in wanted else (r, done, version)
            for r, done, version in self.st.replans
        ]


class MemoryProgressRepository:
    def __init__(self, state: MemoryState) -> None:
        self.st = state

    def load(self, operation_ids: Collection[str]) -> ProgressSnapshot:
        snap = ProgressSnapshot()
        wanted = set(operation_ids)
        for wo in self.st.work_orders.values():
            for op in wo.operations:
                if op.id in wanted:
                    snap.operations[op.id] = OperationProgress(
                        op.id,
                        wo.id,
                        op.capability,
                        op.machines,
                        op.status,
                        op.machine,
                        op.actual_start,
                        op.actual_end,
                        op.good,
                        op.rejected,
                    )
        for wo_id in {op.work_order for op in snap.operations.values()}:
            wo = self.st.work_orders[wo_id]
            ops = {op.id: op.status for op in wo.operations}
            snap.work_orders[wo_id] = WorkOrderProgress(wo_id, wo.order, wo.status, ops)
        for order_id in {wo.order for wo in snap.work_orders.values()}:
            siblings = {w.id: w.status for w in self.st.work_orders.values() if w.order == order_id}
            snap.orders[order_id] = OrderProgress(
                order_id, self.st.orders[order_id].status, siblings
            )
        return snap

    def save(self, snapshot: ProgressSnapshot) -> None:
        for wo_id, wo in list(self.st.work_orders.items()):
            ops = tuple(
                replace(
                    op,
                    status=p.status,
                    machine=p.machine,
                    actual_start=p.actual_start,
                    actual_end=p.actual_end,
                    good=p.good,
                    rejected=p.rejected,
                )
                if (p := snapshot.operations.get(op.id)) and op.id in snapshot.changed_operations
                else op
                for op in wo.operations
            )
            work_status = (
                snapshot.work_orders[wo_id].status
                if wo_id in snapshot.changed_work_orders
                else wo.status
            )
            self.st.work_orders[wo_id] = replace(wo, operations=ops, status=work_status)
        for order_id, status, at, note in snapshot.timeline:
            self.st.orders[order_id] = replace(self.st.orders[order_id], status=status)
            self.st.timelines.setdefault(order_id, []).append((status, at, note))
            if status == OrderStatus.DONE:
                self.st.completed[order_id] = at


class MemoryUnitOfWork:
    def __init__(self, owner: MemoryUnitOfWorkFactory) -> None:
        self._owner = owner
        self._state = MemoryState()

    def _bind(self) -> None:
        self.factory = MemoryFactoryRepository(self._state)
        self.orders = MemoryOrderRepository(self._state)
        self.work_orders = MemoryWorkOrderRepository(self._state)
        self.customers = MemoryCustomerRepository(self._state)
        self.trace = MemoryTraceRepository(self._state)
        self.quality = self._state.quality
        self.plans = self._state.plans
        self.records = MemoryExecutionRecords(self._state)
        self.usage = MemoryUsageRepository(self._state)
        self.events = MemoryEventLog(self._state)
        self.reactor = MemoryReactorLedger(self._state)
        self.replans = MemoryReplanQueue(self._state)
        self.progress = MemoryProgressRepository(self._state)
        self.stock = MemoryStockRepository(self._state.stock, self._state)
        self.purchases = MemoryPurchaseRepository(self._state.stock)
        self.pins = MemoryPinRepository(self._state.pins)

    def __enter__(self) -> MemoryUnitOfWork:
        self._state = copy.deepcopy(self._owner.state)
        self._bind()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._owner.state = copy.deepcopy(self._state)

    def rollback(self) -> None:
        self._state = copy.deepcopy(self._owner.state)
        self._bind()


class MemoryUnitOfWorkFactory:
    def __init__(self) -> None:
        self.state = MemoryState()

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def append_events(self, events: Sequence[Event]) -> None:
        """Store events as the ingester would (committed, in order; a known id is skipped)."""
        known = {e.event_id for e in self.state.events}
        position = self.state.events[-1].position if self.state.events else 0
        for event in events:
            if event.event_id in known:
                continue
            known.add(event.event_id)
            position += 1
            self.state.events.append(
                StoredEvent(
                    position,
                    event.event_id,
                    event.machine,
                    event.kind,
                    event.seq,
                    event.ts,
                    None if event.kind == "sample" else event,
                )
            )
