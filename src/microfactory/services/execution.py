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

from datetime import datetime

from microfactory.orders import Factory, OrderStatus, WorkStatus
from microfactory.orders.progress import (
    OperationProgress,
    OrderProgress,
    ProgressSnapshot,
    WorkOrderProgress,
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
    """Applies `job` events (see the module's rules). The operations a batch names are loaded
    once (`prepare`), changed in memory event by event, and saved in bulk (`finish`)."""

    kinds = frozenset({"job"})

    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self._eligible: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}
        self._tx: UnitOfWork | None = None
        self._snap = ProgressSnapshot()

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        ids = {e.event.operation for e in events if isinstance(e.event, JobEvent)}
        self._tx = tx
        self._snap = tx.progress.load(ids) if ids else ProgressSnapshot()

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        if tx is self._tx:
            tx.progress.save(self._snap)
        self._tx, self._snap = None, ProgressSnapshot()

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        e = stored.event
        assert isinstance(e, JobEvent)
        if tx is not self._tx:  # applied without `prepare` (one event at a time)
            self.prepare(tx, [stored])
        op = self._operation(e)
        if e.action == "started":
            self._started(e, op, out)
        elif e.action == "finished":
            self._finished(e, op, out)
        else:
            self._aborted(tx, e, op, out)

    # -- checks ----------------------------------------------------------------------------

    def _operation(self, e: JobEvent) -> OperationProgress:
        op = self._snap.operations.get(e.operation)
        if op is None:
            raise EventRejected(f"unknown operation {e.operation}")
        if op.work_order != e.work_order:
            raise EventRejected(
                f"operation {e.operation} belongs to work order {op.work_order}, not {e.work_order}"
            )
        if e.machine not in self._eligible_for(op):
            raise EventRejected(
                f"machine {e.machine} cannot run operation {op.id} (capability {op.capability!r})"
            )
        return op

    def _eligible_for(self, op: OperationProgress) -> frozenset[str]:
        key = (op.capability, op.machines)
        found = self._eligible.get(key)
        if found is None:
            found = frozenset(
                m.id for m in self.factory.eligible_machines(op.capability, op.machines)
            )
            self._eligible[key] = found
        return found

    # -- actions ---------------------------------------------------------------------------

    def _started(self, e: JobEvent, op: OperationProgress, out: Applied) -> None:
        snap = self._snap
        if op.status == WorkStatus.DONE:
            inferred = op.actual_start is not None and op.actual_start == op.actual_end
            if inferred and op.actual_end is not None and e.ts <= op.actual_end:
                op.actual_start = e.ts
                snap.set_operation(op)
                return
            raise EventRejected(f"operation {op.id} already finished at {op.actual_end}")
        if op.status == WorkStatus.CANCELLED:
            raise EventRejected(f"operation {op.id} was cancelled")
        if op.status == WorkStatus.RUNNING:
            raise EventRejected(
                f"operation {op.id} is already running on {op.machine} since {op.actual_start}"
            )
        op.status, op.machine, op.actual_start, op.actual_end = (
            WorkStatus.RUNNING,
            e.machine,
            e.ts,
            None,
        )
        op.good = op.rejected = 0
        snap.set_operation(op)
        out.operations[op.id] = (WorkStatus.RUNNING.value, 0)
        self._work_order_running(snap.work_orders[op.work_order], e.ts)

    def _finished(self, e: JobEvent, op: OperationProgress, out: Applied) -> None:
        snap = self._snap
        if op.status in FINAL:
            raise EventRejected(f"operation {op.id} is already {op.status.value}")
        if op.status == WorkStatus.RUNNING and op.machine not in (None, e.machine):
            raise EventRejected(f"operation {op.id} is running on {op.machine}, not {e.machine}")
        start = op.actual_start if op.status == WorkStatus.RUNNING else None
        op.status, op.machine = WorkStatus.DONE, e.machine
        op.actual_start = e.ts if start is None or start > e.ts else start
        op.actual_end, op.good, op.rejected = e.ts, e.good, e.reject
        snap.set_operation(op)
        out.operations[op.id] = (WorkStatus.DONE.value, e.good)
        wo = snap.work_orders[op.work_order]
        self._work_order_running(wo, e.ts)
        if all(st in FINAL for st in wo.operations.values()):
            snap.set_work_order(wo, WorkStatus.DONE)
            out.work_orders_done.append(wo.id)
            order = snap.orders[wo.order]
            if order.status == OrderStatus.IN_PRODUCTION and all(
                st in FINAL for st in order.work_orders.values()
            ):
                snap.set_order(order, OrderStatus.DONE, e.ts, "all work orders done")

    def _aborted(self, tx: UnitOfWork, e: JobEvent, op: OperationProgress, out: Applied) -> None:
        if op.status != WorkStatus.RUNNING or op.machine != e.machine:
            raise EventRejected(
                f"operation {op.id} is not running on {e.machine} (it is {op.status.value})"
            )
        op.status, op.actual_start = WorkStatus.ABORTED, None
        op.good = op.rejected = 0
        self._snap.set_operation(op)
        out.operations[op.id] = (WorkStatus.ABORTED.value, 0)
        tx.replans.request(e.ts, "job_aborted", f"{op.id} aborted on {e.machine}")
        out.replans_requested += 1

    def _work_order_running(self, wo: WorkOrderProgress, at: datetime) -> None:
        steps = _TO_RUNNING.get(wo.status, ())
        if steps:
            self._snap.set_work_order(wo, steps[-1])
        order: OrderProgress = self._snap.orders[wo.order]
        if order.status == OrderStatus.CONFIRMED:
            self._snap.set_order(order, OrderStatus.RELEASED, at, "work released")
        if order.status == OrderStatus.RELEASED:
            self._snap.set_order(order, OrderStatus.IN_PRODUCTION, at, "production started")
