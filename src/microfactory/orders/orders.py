"""Customer orders and their lifecycle, work orders and their operations, serial numbers.

Order lifecycle: quoted → confirmed → released → in_production → done, and cancelled from any
state before done. Illegal transitions raise `Conflict`.
Work orders and operations: planned → released → running → done, with held ⇄ (planned,
released) for quality holds and cancelled. An operation whose job a machine aborted is
`aborted` until it runs again (it is planned again meanwhile)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from microfactory.core.errors import Conflict
from microfactory.orders.products import ParamValue, Product
from microfactory.shopfloor.machines import check_id, check_number


class OrderStatus(StrEnum):
    QUOTED = "quoted"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    IN_PRODUCTION = "in_production"
    DONE = "done"
    CANCELLED = "cancelled"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.QUOTED: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.RELEASED, OrderStatus.CANCELLED}),
    OrderStatus.RELEASED: frozenset({OrderStatus.IN_PRODUCTION, OrderStatus.CANCELLED}),
    OrderStatus.IN_PRODUCTION: frozenset({OrderStatus.DONE, OrderStatus.CANCELLED}),
    OrderStatus.DONE: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


class WorkStatus(StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    RUNNING = "running"
    DONE = "done"
    HELD = "held"
    CANCELLED = "cancelled"
    ABORTED = "aborted"


WORK_TRANSITIONS: dict[WorkStatus, frozenset[WorkStatus]] = {
    WorkStatus.PLANNED: frozenset({WorkStatus.RELEASED, WorkStatus.HELD, WorkStatus.CANCELLED}),
    WorkStatus.RELEASED: frozenset(
        {WorkStatus.RUNNING, WorkStatus.HELD, WorkStatus.PLANNED, WorkStatus.CANCELLED}
    ),
    WorkStatus.RUNNING: frozenset(
        {WorkStatus.DONE, WorkStatus.HELD, WorkStatus.RELEASED, WorkStatus.ABORTED}
    ),
    WorkStatus.ABORTED: frozenset(
        {
            WorkStatus.RUNNING,
            WorkStatus.RELEASED,
            WorkStatus.PLANNED,
            WorkStatus.HELD,
            WorkStatus.CANCELLED,
        }
    ),
    WorkStatus.HELD: frozenset({WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.CANCELLED}),
    WorkStatus.DONE: frozenset(),
    WorkStatus.CANCELLED: frozenset(),
}


def check_transition(
    table: Mapping[Any, frozenset[Any]], current: StrEnum, target: StrEnum, what: str
) -> None:
    if target == current:
        return
    if target not in table[current]:
        allowed = ", ".join(sorted(str(s) for s in table[current])) or "none"
        raise Conflict(f"{what} cannot go from {current} to {target} (allowed: {allowed})")


@dataclass(frozen=True)
class OrderLine:
    product: str
    quantity: int
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    model_ref: str | None = None
    unit_price: float | None = None

    def __post_init__(self) -> None:
        check_id(self.product, "product id")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValueError("order line quantity must be a whole number")
        if not 1 <= self.quantity <= 1_000_000:
            raise ValueError("order line quantity must be between 1 and 1,000,000")
        if self.unit_price is not None:
            check_number(self.unit_price, "unit_price", 0, 1e12)


@dataclass(frozen=True)
class Order:
    id: str
    customer: str
    lines: tuple[OrderLine, ...]
    due: datetime
    created: datetime
    priority: int = 3
    status: OrderStatus = OrderStatus.CONFIRMED
    notes: str = ""
    rush: bool = False

    def __post_init__(self) -> None:
        check_id(self.id, "order id")
        check_id(self.customer, "customer id")
        if not self.lines:
            raise ValueError("an order needs at least one line")
        if self.due.tzinfo is None or self.created.tzinfo is None:
            raise ValueError("order due and created times must be timezone-aware")
        if self.due <= self.created:
            raise ValueError("order due date must be after its creation time")
        if not 1 <= self.priority <= 5:
            raise ValueError("priority must be 1 (lowest) to 5 (highest)")

    @property
    def weight(self) -> int:
        """Tardiness weight for the scheduler: priority, doubled for rush orders."""
        return self.priority * (2 if self.rush else 1)

    def transition(self, target: OrderStatus) -> Order:
        check_transition(ORDER_TRANSITIONS, self.status, target, f"order {self.id}")
        return replace(self, status=target)


class OperationState(NamedTuple):
    """What can change about an operation once its work order exists: a read cheap enough to
    check that a view built from it earlier still holds (the operator terminal's queue)."""

    status: WorkStatus
    machine: str | None
    good: int
    rejected: int
    actual_start: datetime | None
    work_order_status: WorkStatus
    work_order: str
    """The work order it belongs to (never changes; here so a view can read the work
    orders of only the operations whose state changed)."""


@dataclass(frozen=True)
class WorkOrderOperation:
    """One operation of a work order, ready for the scheduler: the capability it needs, an
    optional machine restriction, its nominal minutes (÷ machine speed factor), the resolved
    setup family and the seqs of the operations it waits for."""

    id: str
    work_order: str
    seq: int
    name: str
    capability: str
    minutes: float
    setup_family: str | None = None
    machines: tuple[str, ...] = ()
    predecessors: tuple[int, ...] = ()
    status: WorkStatus = WorkStatus.PLANNED
    machine: str | None = None
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    good: int = 0
    rejected: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.minutes, int | float) and 0 < self.minutes < math.inf):
            raise ValueError("operation minutes must be a positive finite number")
        if self.actual_end is not None and self.actual_start is None:
            raise ValueError("an operation cannot end before it started")
        if (
            self.actual_start is not None
            and self.actual_end is not None
            and self.actual_end < self.actual_start
        ):
            raise ValueError("operation actual_end must not be before actual_start")

    def transition(self, target: WorkStatus) -> WorkOrderOperation:
        check_transition(WORK_TRANSITIONS, self.status, target, f"operation {self.id}")
        return replace(self, status=target)


@dataclass(frozen=True)
class WorkOrder:
    id: str
    order: str
    line_no: int
    product: str
    quantity: int
    due: datetime
    weight: int
    operations: tuple[WorkOrderOperation, ...]
    release: datetime | None = None
    status: WorkStatus = WorkStatus.PLANNED
    lot: str = ""
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id(self.id, "work order id")
        if self.quantity < 1:
            raise ValueError("work order quantity must be positive")
        if not self.operations:
            raise ValueError("a work order needs operations")
        if self.release is not None and self.release > self.due:
            raise ValueError("release must not be after due date")

    def transition(self, target: WorkStatus) -> WorkOrder:
        check_transition(WORK_TRANSITIONS, self.status, target, f"work order {self.id}")
        return replace(self, status=target)

    @property
    def open_operations(self) -> tuple[WorkOrderOperation, ...]:
        return tuple(
            op for op in self.operations if op.status not in (WorkStatus.DONE, WorkStatus.CANCELLED)
        )


def explode_work_orders(order: Order, products: Mapping[str, Product]) -> list[WorkOrder]:
    """One work order per order line, with operations from the product's routing."""
    return [
        work_order_for_line(order, n, products, f"{order.id}-{n}")
        for n in range(1, len(order.lines) + 1)
    ]


def work_order_for_line(
    order: Order,
    line_no: int,
    products: Mapping[str, Product],
    wo_id: str,
    release: datetime | None = None,
) -> WorkOrder:
    """The work order `wo_id` for line `line_no` (1-based) of `order`, its operations from
    the product's routing; released at `release` (default: when the order was taken)."""
    line = order.lines[line_no - 1]
    product = products.get(line.product)
    if product is None:
        raise ValueError(f"order {order.id} line {line_no}: unknown product {line.product}")
    params = product.resolve_parameters(line.parameters)
    preds = product.predecessors()
    ops = tuple(
        WorkOrderOperation(
            id=f"{wo_id}-{op.seq}",
            work_order=wo_id,
            seq=op.seq,
            name=op.name,
            capability=op.capability,
            minutes=op.minutes(line.quantity),
            setup_family=op.family_for(params),
            machines=op.machines,
            predecessors=preds[op.seq],
        )
        for op in product.routing
    )
    return WorkOrder(
        id=wo_id,
        order=order.id,
        line_no=line_no,
        product=product.id,
        quantity=line.quantity,
        due=order.due,
        weight=order.weight,
        operations=ops,
        release=order.created if release is None else release,
        lot=f"LOT-{wo_id}",
        parameters=params,
    )


@dataclass(frozen=True)
class SerialNumber:
    """A finished part: which work order and lot it came from."""

    serial: str
    work_order: str
    lot: str
    made: datetime

    def __post_init__(self) -> None:
        check_id(self.serial, "serial number")
        if self.made.tzinfo is None:
            raise ValueError("serial made time must be timezone-aware")
