"""What an operator at a station sees: the machine's work in plan order (the operation
running on it first), each with what to make (product, quantity, options, the step's name
and minutes), the material and the lot to take (first expiry first, as the stock issues it),
the quality characteristics measured at this step and the 3D model to print, when the order
came from a quote. A read model: nothing here changes state."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from microfactory.core.errors import NotFound
from microfactory.orders import (
    Factory,
    OperationState,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.services.ports import UnitOfWork

QUEUE_LIMIT = 12
"""Cards on the terminal: the running one and what comes next (a tablet shows a few)."""
CLOSED = (WorkStatus.DONE, WorkStatus.CANCELLED)


@dataclass(frozen=True)
class MaterialToUse:
    material: str
    name: str
    quantity: float
    unit: str
    lots: tuple[str, ...]
    """Lots with stock, the one to take first first."""


@dataclass(frozen=True)
class QueueItem:
    operation: str
    work_order: str
    order: str
    step: str
    seq: int
    status: str
    product: str
    product_name: str
    quantity: int
    parameters: dict[str, Any]
    lot: str
    minutes: float
    planned_start: datetime | None
    planned_end: datetime | None
    due: datetime
    actual_start: datetime | None
    good: int
    rejected: int
    materials: tuple[MaterialToUse, ...] = ()
    characteristics: tuple[dict[str, Any], ...] = ()
    model_ref: str | None = None
    inspection: bool = False
    instructions: tuple[str, ...] = field(default_factory=tuple)


def _lots_by_material(tx: UnitOfWork) -> dict[str, list[str]]:
    lots = sorted(
        (lot for lot in tx.stock.lots() if lot.quantity > 0),
        key=lambda lot: (
            lot.expires.timestamp() if lot.expires else math.inf,
            lot.received.timestamp() if lot.received else math.inf,
        ),
    )
    out: dict[str, list[str]] = {}
    for lot in lots:
        out.setdefault(lot.material, []).append(lot.id)
    return out


def _item(
    factory: Factory,
    wo: WorkOrder,
    op: WorkOrderOperation,
    row: dict[str, Any] | None,
    model_ref: str | None,
    lots: dict[str, list[str]],
) -> QueueItem:
    product = factory.product_map.get(wo.product)
    materials: list[MaterialToUse] = []
    chars: list[dict[str, Any]] = []
    inspection = False
    instructions = [f"{op.name}: {wo.quantity} × {product.name if product else wo.product}"]
    if wo.parameters:
        instructions.append(
            "Options: " + ", ".join(f"{k} = {v}" for k, v in sorted(wo.parameters.items()))
        )
    if product is not None:
        step = next((r for r in product.routing if r.seq == op.seq), None)
        inspection = bool(step and step.inspection)
        for line in product.bom_for(op.seq):
            component = line.component_for(wo.parameters)
            material = factory.material_map.get(component)
            materials.append(
                MaterialToUse(
                    component,
                    material.name if material else component,
                    round(line.quantity * wo.quantity, 4),
                    line.unit,
                    tuple(lots.get(component, [])[:3]),
                )
            )
        chars = [
            {
                "name": c.name,
                "nominal": c.nominal,
                "lsl": c.lsl,
                "usl": c.usl,
                "unit": c.unit,
            }
            for c in product.characteristics
            if c.operation == op.seq
        ]
    if op.setup_family:
        instructions.append(f"Set up for: {op.setup_family}")
    if chars:
        instructions.append("Measure: " + ", ".join(c["name"] for c in chars))
    if wo.lot:
        instructions.append(f"Label the parts with lot {wo.lot}")
    return QueueItem(
        operation=op.id,
        work_order=wo.id,
        order=wo.order,
        step=op.name,
        seq=op.seq,
        status=op.status.value,
        product=wo.product,
        product_name=product.name if product else wo.product,
        quantity=wo.quantity,
        parameters=dict(wo.parameters),
        lot=wo.lot,
        minutes=round(op.minutes, 1),
        planned_start=None if row is None else row["start"],
        planned_end=None if row is None else row["end"],
        due=wo.due,
        actual_start=op.actual_start,
        good=op.good,
        rejected=op.rejected,
        materials=tuple(materials),
        characteristics=tuple(chars),
        model_ref=model_ref,
        inspection=inspection,
        instructions=tuple(instructions),
    )


class CurrentPlan:
    """The current plan's rows by machine and each operation's machine, kept while the plan's
    version stays the same: a station reads the plan on every action and page view, and a
    plan of hundreds of operations costs tens of milliseconds to load; the version is one
    row. Thread-safe; the rows are shared, read-only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._by_machine: dict[str, list[dict[str, Any]]] = {}
        self._machine_of: dict[str, str] = {}

    def _load(self, tx: UnitOfWork) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        version = tx.plans.current_version()
        with self._lock:
            if version is not None and version == self._version:
                return self._by_machine, self._machine_of
        stored = tx.plans.current_plan()
        by_machine: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(stored[1] if stored else [], key=lambda r: r["start"]):
            by_machine.setdefault(str(row["machine"]), []).append(row)
        machine_of = {str(r["operation"]): m for m, rows in by_machine.items() for r in rows}
        with self._lock:
            if stored is not None:
                self._version = int(stored[0]["version"])
                self._by_machine, self._machine_of = by_machine, machine_of
        return by_machine, machine_of

    def rows(self, tx: UnitOfWork, machine: str) -> list[dict[str, Any]]:
        """The plan's operations on `machine`, by start."""
        return self._load(tx)[0].get(machine, [])

    def machine_of(self, tx: UnitOfWork, operation: str) -> str | None:
        """The machine the plan gives `operation` (None: not in the current plan)."""
        return self._load(tx)[1].get(operation)


def station_queue(
    tx: UnitOfWork,
    factory: Factory,
    machine: str,
    limit: int = QUEUE_LIMIT,
    plan: CurrentPlan | None = None,
) -> list[QueueItem]:
    """The machine's open operations: the one running on it, then the plan's, by start."""
    if machine not in factory.machine_map:
        raise NotFound(f"machine {machine} does not exist")
    rows = (plan or CurrentPlan()).rows(tx, machine)
    planned = {str(r["operation"]): r for r in rows}
    work_orders: dict[str, WorkOrder] = {}
    order: list[tuple[str, str]] = []  # (operation, work order)
    for wo in tx.work_orders.find(running_on=machine):
        for op in wo.operations:
            if op.status == WorkStatus.RUNNING and op.machine == machine:
                order.append((op.id, wo.id))
                work_orders[wo.id] = wo
    running = {op for op, _ in order}
    order += [(op, str(r["work_order"])) for op, r in planned.items() if op not in running]
    # The cards' work orders and their lines' models in one read each (a read per card was
    # 20 ms a queue). The plan holds open operations, so the first `limit` rows are nearly
    # always the cards: the next rows are read only for cards that turned out closed.
    items: list[QueueItem] = []
    lots: dict[str, list[str]] | None = None
    models: dict[tuple[str, int], str] = {}
    seen: set[str] = set()
    start = 0
    while start < len(order) and len(items) < limit:
        batch = order[start : start + limit - len(items)]
        start += len(batch)
        missing = [wo_id for _, wo_id in batch if wo_id not in work_orders]
        work_orders.update(tx.work_orders.get_many(missing))
        wanted = {work_orders[w].order for _, w in batch if w in work_orders} - seen
        models.update(tx.orders.line_models(sorted(wanted)))
        seen |= wanted
        for op_id, wo_id in batch:
            if len(items) >= limit:
                break
            card_wo = work_orders.get(wo_id)
            if card_wo is None:
                continue  # planned before its order was removed: nothing to do here
            step = next((o for o in card_wo.operations if o.id == op_id), None)
            if step is None or step.status in CLOSED:
                continue
            if step.status == WorkStatus.ABORTED and op_id not in planned:
                continue
            if lots is None:
                lots = _lots_by_material(tx)
            model = models.get((card_wo.order, card_wo.line_no))
            items.append(_item(factory, card_wo, step, planned.get(op_id), model, lots))
    return items


def find_operation(tx: UnitOfWork, text: str) -> WorkOrderOperation:
    """What a scanner typed: an operation id, or a work order id (its first open step)."""
    key = text.strip()
    if not key:
        raise NotFound("nothing was scanned")
    try:
        return tx.work_orders.get_operation(key)
    except NotFound:
        pass
    try:
        wo = tx.work_orders.get(key)
    except NotFound:
        raise NotFound(f"no operation or work order {key!r}") from None
    for op in wo.operations:
        if op.status not in CLOSED:
            return op
    raise NotFound(f"work order {key} has no open operation")


class QueueCache:
    """The terminal's queue per machine, kept while nothing it is built from can have
    changed. Each view reads the plan's version and the state of the cards' operations and of
    those running on the machine (one small read, instead of the plan, work orders, orders and
    lots of a rebuild): a start, finish, pause, hold or cancellation of a card's operation,
    an operation started on the machine from elsewhere, or a new plan builds it again, and an
    event at another machine that touches none of its cards leaves it alone. What changes off
    those (the stock lots to take, a changed order line) shows after at most `ttl_s`."""

    def __init__(self, ttl_s: float = 5.0, plan: CurrentPlan | None = None) -> None:
        if ttl_s < 0:
            raise ValueError("the queue cache's lifetime must not be negative")
        self.ttl_s = ttl_s
        self.plan = plan or CurrentPlan()
        self._items: dict[tuple[str, int], _Cached] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self, tx: UnitOfWork, factory: Factory, machine: str, limit: int = QUEUE_LIMIT
    ) -> list[QueueItem]:
        version = tx.plans.current_version()
        key = (machine, limit)
        with self._lock:
            hit = self._items.get(key)
        if (
            hit is not None
            and hit.version == version
            and time.monotonic() - hit.built < self.ttl_s
            and tx.work_orders.operation_states(hit.operations, running_on=machine) == hit.states
        ):
            self.hits += 1
            return list(hit.queue)
        self.misses += 1
        built = time.monotonic()
        queue = station_queue(tx, factory, machine, limit, self.plan)
        operations = tuple(item.operation for item in queue)
        states = tx.work_orders.operation_states(operations, running_on=machine)
        if not _agree(queue, states, machine):
            built = -math.inf  # changed while it was read: the next view builds it again
        with self._lock:
            self._items[key] = _Cached(built, version, operations, states, queue)
        return list(queue)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class _Cached:
    built: float
    version: int | None
    operations: tuple[str, ...]
    states: dict[str, OperationState]
    queue: list[QueueItem]


def _agree(queue: list[QueueItem], states: dict[str, OperationState], machine: str) -> bool:
    """Whether the cards show the operations as `states` has them (no start, finish or count
    came between the two reads) and every operation running on `machine` is on a card."""
    cards = {item.operation for item in queue}
    for item in queue:
        state = states.get(item.operation)
        if state is None or (
            state.status.value,
            state.good,
            state.rejected,
            state.actual_start,
        ) != (item.status, item.good, item.rejected, item.actual_start):
            return False
    return all(
        op in cards
        for op, state in states.items()
        if state.status == WorkStatus.RUNNING and state.machine == machine
    )
