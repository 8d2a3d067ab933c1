"""Execution progress in bulk on a unit of work's session (the event path's hot path): one
statement per table to load what a batch of job events names, executemany updates to save
it. Core statements, no ORM objects: the reactor applies thousands of events a second."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from microfactory.orders import OrderStatus, WorkStatus
from microfactory.orders.progress import (
    OperationProgress,
    OrderProgress,
    ProgressSnapshot,
    WorkOrderProgress,
)
from microfactory.store.tables import OperationRow, OrderEventRow, OrderRow, WorkOrderRow

CHUNK = 500


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    items = sorted(ids)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _t(row: type[Any]) -> Table:
    return cast(Table, row.__table__)


# Built once: the reactor loads a snapshot per batch, and a new select per call (built,
# then hashed for SQLAlchemy's compiled cache) cost about as much as running it.
_OPS, _WOS, _ORDERS_T = _t(OperationRow), _t(WorkOrderRow), _t(OrderRow)
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_OPERATIONS = select(_OPS).where(_OPS.c.id.in_(_IDS))
_WORK_ORDERS = select(_WOS.c.id, _WOS.c.order_id, _WOS.c.status).where(_WOS.c.id.in_(_IDS))
_OPERATIONS_OF = select(_OPS.c.id, _OPS.c.work_order, _OPS.c.status).where(
    _OPS.c.work_order.in_(_IDS)
)
_ORDERS = select(_ORDERS_T.c.id, _ORDERS_T.c.status).where(_ORDERS_T.c.id.in_(_IDS))
_WORK_ORDERS_OF = select(_WOS.c.id, _WOS.c.order_id, _WOS.c.status).where(_WOS.c.order_id.in_(_IDS))


class SqlProgressRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def load(self, operation_ids: Collection[str]) -> ProgressSnapshot:
        snap = ProgressSnapshot()
        for chunk in _chunks(set(operation_ids)):
            for r in self.s.execute(_OPERATIONS, {"ids": chunk}):
                snap.operations[r.id] = OperationProgress(
                    r.id,
                    r.work_order,
                    r.capability,
                    tuple(r.machines),
                    WorkStatus(r.status),
                    r.machine,
                    r.actual_start,
                    r.actual_end,
                    r.good,
                    r.rejected,
                )
        wo_ids = {op.work_order for op in snap.operations.values()}
        for chunk in _chunks(wo_ids):
            for r in self.s.execute(_WORK_ORDERS, {"ids": chunk}):
                snap.work_orders[r.id] = WorkOrderProgress(
                    r.id, r.order_id, WorkStatus(r.status), {}
                )
            for r in self.s.execute(_OPERATIONS_OF, {"ids": chunk}):
                snap.work_orders[r.work_order].operations[r.id] = WorkStatus(r.status)
        order_ids = {wo.order for wo in snap.work_orders.values()}
        for chunk in _chunks(order_ids):
            for r in self.s.execute(_ORDERS, {"ids": chunk}):
                snap.orders[r.id] = OrderProgress(r.id, OrderStatus(r.status), {})
            for r in self.s.execute(_WORK_ORDERS_OF, {"ids": chunk}):
                snap.orders[r.order_id].work_orders[r.id] = WorkStatus(r.status)
        return snap

    def save(self, snapshot: ProgressSnapshot) -> None:
        ops, wos, orders = _t(OperationRow), _t(WorkOrderRow), _t(OrderRow)
        if snapshot.changed_operations:
            self.s.execute(
                update(ops)
                .where(ops.c.id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    machine=bindparam("b_machine"),
                    actual_start=bindparam("b_start"),
                    actual_end=bindparam("b_end"),
                    good=bindparam("b_good"),
                    rejected=bindparam("b_rejected"),
                ),
                [_op_params(snapshot.operations[i]) for i in sorted(snapshot.changed_operations)],
            )
        if snapshot.changed_work_orders:
            self.s.execute(
                update(wos).where(wos.c.id == bindparam("b_id")).values(status=bindparam("b_s")),
                [
                    {"b_id": i, "b_s": snapshot.work_orders[i].status.value}
                    for i in sorted(snapshot.changed_work_orders)
                ],
            )
        if snapshot.timeline:
            last: dict[str, OrderStatus] = {}
            for order, status, _, _ in snapshot.timeline:
                last[order] = status
            self.s.execute(
                update(orders)
                .where(orders.c.id == bindparam("b_id"))
                .values(status=bindparam("b_s"), completed=bindparam("b_done")),
                [
                    {"b_id": o, "b_s": st.value, "b_done": snapshot.completed.get(o)}
                    for o, st in last.items()
                ],
            )
            self.s.execute(
                insert(_t(OrderEventRow)),
                [
                    {"order_id": o, "status": st.value, "at": at, "note": note}
                    for o, st, at, note in snapshot.timeline
                ],
            )


def _op_params(op: OperationProgress) -> dict[str, Any]:
    return {
        "b_id": op.id,
        "b_status": op.status.value,
        "b_machine": op.machine,
        "b_start": op.actual_start,
        "b_end": op.actual_end,
        "b_good": op.good,
        "b_rejected": op.rejected,
    }
