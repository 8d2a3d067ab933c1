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
    """The machine's open operations: those running on it (first started first), then the
    plan's, by start. Every card read afresh (`QueueCache.get` reuses unchanged ones)."""
    return _queue(tx, factory, machine, limit, plan or CurrentPlan(), None)


def _queue(
    tx: UnitOfWork,
    factory: Factory,
    machine: str,
    limit: int,
    plan: CurrentPlan,
    cards: _Cards | None,
) -> list[QueueItem]:
    if machine not in factory.machine_map:
        raise NotFound(f"machine {machine} does not exist")
    planned = {str(r["operation"]): r for r in plan.rows(tx, machine)}
    # One small read says which operations are open and what state they are in: the plan's
    # first ones and those running on the machine. Only the cards whose state (or planned
    # time) changed since they were built read their work order, order line and lots; the
    # others are reused.
    ahead = list(planned)
    states = tx.work_orders.operation_states(ahead[:limit], running_on=machine)
    running = sorted(
        (
            op
            for op, state in states.items()
            if state.status == WorkStatus.RUNNING and state.machine == machine
        ),
        key=lambda op: (_at(states[op].actual_start), op),
    )
    first = set(running)
    order = running + [op for op in ahead if op not in first]
    read = set(ahead[:limit])
    items: list[QueueItem] = []
    lots: dict[str, list[str]] | None = None
    start = 0
    while start < len(order) and len(items) < limit:
        batch = order[start : start + limit - len(items)]
        start += len(batch)
        unread = [op for op in batch if op not in read and op not in states]
        if unread:
            states.update(tx.work_orders.operation_states(unread))
            read.update(unread)
        shown: list[tuple[str, OperationState]] = []
        for op_id in batch:
            state = states.get(op_id)
            if state is None:
                continue  # planned before its order was removed: nothing to do here
            if state.status in CLOSED or (
                state.status == WorkStatus.ABORTED and op_id not in planned
            ):
                continue
            shown.append((op_id, state))
        row_of = {op_id: planned.get(op_id) for op_id, _ in shown}
        kept = {} if cards is None else cards.take(shown, row_of)
        needed = [(op_id, state) for op_id, state in shown if op_id not in kept]
        if needed:
            work_orders = tx.work_orders.get_many(sorted({s.work_order for _, s in needed}))
            models = tx.orders.line_models(sorted({w.order for w in work_orders.values()}))
            if lots is None:
                lots = _lots_by_material(tx)
            for op_id, _ in needed:
                wo = work_orders.get(states[op_id].work_order)
                step = (
                    None if wo is None else next((o for o in wo.operations if o.id == op_id), None)
                )
                if wo is None or step is None or step.status in CLOSED:
                    continue  # closed or removed between the two reads
                item = _item(
                    factory, wo, step, row_of[op_id], models.get((wo.order, wo.line_no)), lots
                )
                kept[op_id] = item
                if cards is not None:
                    cards.put(op_id, _state_of(wo, step), row_of[op_id], item)
        for op_id, _ in shown:
            if op_id in kept and len(items) < limit:
                items.append(kept[op_id])
    return items


def _at(when: datetime | None) -> float:
    return -math.inf if when is None else when.timestamp()


def _state_of(wo: WorkOrder, op: WorkOrderOperation) -> OperationState:
    """The state the card was built from (its own read, which may be newer than the states
    read before it: then the card is built again at the next view)."""
    return OperationState(
        op.status, op.machine, op.good, op.rejected, op.actual_start, wo.status, wo.id
    )


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
    """The terminal's cards, kept per operation while nothing they are built from can have
    changed. Each view reads the plan's version and the state of the plan's first operations
    on the machine and of those running on it (one small read); a card whose operation's state
    (status, machine, counts, start, its work order's status) and planned times are as they
    were is reused, and only the others read their work order, order line and stock lots.
    So a start, finish, pause, hold or cancellation rebuilds the one card it touched (an event
    at another machine none), and an operation started on the machine from elsewhere or a new
    plan shows at the next view. What changes off those (the stock lots to take, a changed
    order line) shows after at most `ttl_s`."""

    def __init__(self, ttl_s: float = 5.0, plan: CurrentPlan | None = None) -> None:
        if ttl_s < 0:
            raise ValueError("the queue cache's lifetime must not be negative")
        self.plan = plan or CurrentPlan()
        self.cards = _Cards(ttl_s)

    @property
    def ttl_s(self) -> float:
        return self.cards.ttl_s

    @property
    def reused(self) -> int:
        """Cards shown without reading them again, since the start."""
        return self.cards.reused

    @property
    def built(self) -> int:
        """Cards read and built, since the start."""
        return self.cards.built

    def get(
        self, tx: UnitOfWork, factory: Factory, machine: str, limit: int = QUEUE_LIMIT
    ) -> list[QueueItem]:
        return _queue(tx, factory, machine, limit, self.plan, self.cards)

    def clear(self) -> None:
        self.cards.clear()


_Row = dict[str, Any] | None


class _Cards:
    """Built cards by operation, each with the state and planned row it was built from.
    Thread-safe (views run in a thread pool); cards of operations no view asks for any more
    (closed ones) expire with the lifetime and are dropped when the cache grows."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._cards: dict[str, tuple[float, OperationState, tuple[Any, Any], QueueItem]] = {}
        self._lock = threading.Lock()
        self.reused = 0
        self.built = 0

    def take(
        self, shown: list[tuple[str, OperationState]], rows: dict[str, _Row]
    ) -> dict[str, QueueItem]:
        now = time.monotonic()
        out: dict[str, QueueItem] = {}
        with self._lock:
            for op_id, state in shown:
                hit = self._cards.get(op_id)
                if (
                    hit is not None
                    and now - hit[0] < self.ttl_s
                    and hit[1] == state
                    and hit[2] == _times(rows[op_id])
                ):
                    out[op_id] = hit[3]
            self.reused += len(out)
        return out

    def put(self, op_id: str, state: OperationState, row: _Row, item: QueueItem) -> None:
        now = time.monotonic()
        with self._lock:
            self.built += 1
            if len(self._cards) > 4096:
                self._cards = {k: v for k, v in self._cards.items() if now - v[0] < self.ttl_s}
            self._cards[op_id] = (now, state, _times(row), item)

    def clear(self) -> None:
        with self._lock:
            self._cards.clear()


def _times(row: _Row) -> tuple[Any, Any]:
    return (None, None) if row is None else (row["start"], row["end"])
