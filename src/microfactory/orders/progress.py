"""Execution progress as the event path sees it: the operations a batch of job events names,
with their work orders (and every sibling operation's status) and orders (and every sibling
work order's status) — loaded once per batch, changed in memory, saved in one go. The rules
that change them live in `services.execution`; this is only the state and its bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from microfactory.orders.orders import OrderStatus, WorkStatus


@dataclass
class OperationProgress:
    id: str
    work_order: str
    capability: str
    machines: tuple[str, ...]
    status: WorkStatus
    machine: str | None
    actual_start: datetime | None
    actual_end: datetime | None
    good: int
    rejected: int


@dataclass
class WorkOrderProgress:
    id: str
    order: str
    status: WorkStatus
    operations: dict[str, WorkStatus]


@dataclass
class OrderProgress:
    id: str
    status: OrderStatus
    work_orders: dict[str, WorkStatus]


@dataclass
class ProgressSnapshot:
    """What a batch reads and changes. `changed_*` name what `save` must write;
    `timeline` the order status entries to append (order, status, at, note)."""

    operations: dict[str, OperationProgress] = field(default_factory=dict)
    work_orders: dict[str, WorkOrderProgress] = field(default_factory=dict)
    orders: dict[str, OrderProgress] = field(default_factory=dict)
    changed_operations: set[str] = field(default_factory=set)
    changed_work_orders: set[str] = field(default_factory=set)
    timeline: list[tuple[str, OrderStatus, datetime, str]] = field(default_factory=list)
    completed: dict[str, datetime] = field(default_factory=dict)

    def set_operation(self, op: OperationProgress) -> None:
        self.operations[op.id] = op
        self.changed_operations.add(op.id)
        wo = self.work_orders.get(op.work_order)
        if wo is not None:
            wo.operations[op.id] = op.status

    def set_work_order(self, wo: WorkOrderProgress, status: WorkStatus) -> None:
        wo.status = status
        self.changed_work_orders.add(wo.id)
        order = self.orders.get(wo.order)
        if order is not None:
            order.work_orders[wo.id] = status

    def set_order(self, order: OrderProgress, status: OrderStatus, at: datetime, note: str) -> None:
        order.status = status
        self.timeline.append((order.id, status, at, note))
        if status == OrderStatus.DONE:
            self.completed[order.id] = at
