"""Execution (MES core) on the event path: job events move operations, work orders and orders
through their states, with planned and actual times kept apart.

The reactor calls `ExecutionHandler.apply` for every committed `job` event, inside its
transaction. The machine (or the person at the station) is the source of truth for what ran
where; the plan is what was intended. The rules for events that do not fit the intention:

* **unknown operation / work order** (or an operation of another work order): rejected.
* **a machine that cannot do the operation** (not eligible for its capability or its
  machine restriction): rejected.
* **a job on another machine than planned** (re-planned meanwhile, or moved by hand): applied;
  the operation records the machine that ran it and the next plan starts from there.
* **`finished` before `started`**: applied; the start is taken as the finish time (zero
  duration) until the `started` event arrives, which then sets the real start.
* **repeated `started`** (already running, here or elsewhere), **anything after `finished`**
  (except that late start), **a job for a cancelled operation**: rejected.
* **`aborted`** of a running operation: it becomes `aborted` (actual start cleared, counts
  kept at zero) and is planned again; the planner is asked to replan. `aborted` of an
  operation that is not running on that machine: rejected.
* **a job of a lot on hold**: applied (the machine ran it); holds stop *dispatch*, not truth.

Rejections carry their reason; the reactor stores them for the user (`microfactory events
rejected`).
"""

from __future__ import annotations

from dataclasses import replace

from microfactory.core.errors import NotFound
from microfactory.orders import (
    Factory,
    OrderStatus,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.services.ports import UnitOfWork
from microfactory.services.reactor import Applied, EventRejected
from microfactory.shopfloor.events import JobEvent
from microfactory.shopfloor.records import StoredEvent

FINAL = (WorkStatus.DONE, WorkStatus.CANCELLED)
# the steps a work order takes to `running` from where it may be when a job starts
_TO_RUNNING = {
    WorkStatus.PLANNED: (WorkStatus.RELEASED, WorkStatus.RUNNING),
    WorkStatus.RELEASED: (WorkStatus.RUNNING,),
    WorkStatus.HELD: (WorkStatus.RELEASED, WorkStatus.RUNNING),
    WorkStatus.ABORTED: (WorkStatus.RUNNING,),
    WorkStatus.RUNNING: (),
}


class ExecutionHandler:
    """Applies `job` events (see the module's rules)."""

    kinds = frozenset({"job"})

    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self._eligible: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        return None

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        e = stored.event
        assert isinstance(e, JobEvent)
        op = self._operation(tx, e)
        if e.action == "started":
            self._started(tx, e, op, out)
        elif e.action == "finished":
            self._finished(tx, e, op, out)
        else:
            self._aborted(tx, e, op, out)

    # -- checks ----------------------------------------------------------------------------

    def _operation(self, tx: UnitOfWork, e: JobEvent) -> WorkOrderOperation:
        try:
            op = tx.work_orders.get_operation(e.operation)
        except NotFound:
            raise EventRejected(f"unknown operation {e.operation}") from None
        if op.work_order != e.work_order:
            raise EventRejected(
                f"operation {e.operation} belongs to work order {op.work_order}, not {e.work_order}"
            )
        if e.machine not in self._eligible_for(op):
            raise EventRejected(
                f"machine {e.machine} cannot run operation {op.id} (capability {op.capability!r})"
            )
        return op

    def _eligible_for(self, op: WorkOrderOperation) -> frozenset[str]:
        key = (op.capability, op.machines)
        found = self._eligible.get(key)
        if found is None:
            found = frozenset(
                m.id for m in self.factory.eligible_machines(op.capability, op.machines)
            )
            self._eligible[key] = found
        return found

    # -- actions ---------------------------------------------------------------------------

    def _started(self, tx: UnitOfWork, e: JobEvent, op: WorkOrderOperation, out: Applied) -> None:
        if op.status == WorkStatus.DONE:
            inferred = op.actual_start is not None and op.actual_start == op.actual_end
            if inferred and op.actual_end is not None and e.ts <= op.actual_end:
                tx.work_orders.update_operation(replace(op, actual_start=e.ts))
                return
            raise EventRejected(f"operation {op.id} already finished at {op.actual_end}")
        if op.status == WorkStatus.CANCELLED:
            raise EventRejected(f"operation {op.id} was cancelled")
        if op.status == WorkStatus.RUNNING:
            raise EventRejected(
                f"operation {op.id} is already running on {op.machine} since {op.actual_start}"
            )
        tx.work_orders.update_operation(
            replace(
                op,
                status=WorkStatus.RUNNING,
                machine=e.machine,
                actual_start=e.ts,
                actual_end=None,
                good=0,
                rejected=0,
            )
        )
        out.operations[op.id] = (WorkStatus.RUNNING.value, 0)
        wo = tx.work_orders.get(op.work_order)
        self._work_order_running(tx, wo, e)

    def _finished(self, tx: UnitOfWork, e: JobEvent, op: WorkOrderOperation, out: Applied) -> None:
        if op.status in FINAL:
            raise EventRejected(f"operation {op.id} is already {op.status.value}")
        if op.status == WorkStatus.RUNNING and op.machine not in (None, e.machine):
            raise EventRejected(f"operation {op.id} is running on {op.machine}, not {e.machine}")
        start = op.actual_start if op.status == WorkStatus.RUNNING else None
        tx.work_orders.update_operation(
            replace(
                op,
                status=WorkStatus.DONE,
                machine=e.machine,
                actual_start=e.ts if start is None or start > e.ts else start,
                actual_end=e.ts,
                good=e.good,
                rejected=e.reject,
            )
        )
        out.operations[op.id] = (WorkStatus.DONE.value, e.good)
        wo = tx.work_orders.get(op.work_order)
        self._work_order_running(tx, wo, e)
        if all(o.status in FINAL for o in wo.operations):
            tx.work_orders.set_status(wo.id, WorkStatus.DONE)
            out.work_orders_done.append(wo.id)
            siblings = tx.work_orders.find(order=wo.order)
            if all(w.status in FINAL for w in siblings):
                order = tx.orders.get(wo.order)
                if order.status == OrderStatus.IN_PRODUCTION:
                    tx.orders.set_status(wo.order, OrderStatus.DONE, e.ts, "all work orders done")

    def _aborted(self, tx: UnitOfWork, e: JobEvent, op: WorkOrderOperation, out: Applied) -> None:
        if op.status != WorkStatus.RUNNING or op.machine != e.machine:
            raise EventRejected(
                f"operation {op.id} is not running on {e.machine} (it is {op.status.value})"
            )
        tx.work_orders.update_operation(
            replace(op, status=WorkStatus.ABORTED, actual_start=None, good=0, rejected=0)
        )
        out.operations[op.id] = (WorkStatus.ABORTED.value, 0)
        tx.replans.request(e.ts, "job_aborted", f"{op.id} aborted on {e.machine}")
        out.replans_requested += 1

    def _work_order_running(self, tx: UnitOfWork, wo: WorkOrder, e: JobEvent) -> None:
        for step in _TO_RUNNING.get(wo.status, ()):
            tx.work_orders.set_status(wo.id, step)
        order = tx.orders.get(wo.order)
        if order.status == OrderStatus.CONFIRMED:
            tx.orders.set_status(order.id, OrderStatus.RELEASED, e.ts, "work released")
            order = tx.orders.get(wo.order)
        if order.status == OrderStatus.RELEASED:
            tx.orders.set_status(order.id, OrderStatus.IN_PRODUCTION, e.ts, "production started")
