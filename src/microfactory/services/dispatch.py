"""Dispatch: which job a free machine runs next — the first operation of the current plan's
sequence for that machine that is ready (its predecessors done, its lot not on hold, its
release reached, no maintenance window or downtime starting before it would end).

The dispatcher only reads. Its view (the current plan, the open operations, held lots and
downtimes) is loaded from the store and kept current by the reactor's `Applied` notes after
each commit (`on_applied`) and by the planning service after each plan (`on_plan`); what a
job does to the shop comes back as events. An operation handed out is remembered as
dispatched until its `started` event is applied, so it is never handed out twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from microfactory.orders import Factory, WorkOrder, WorkStatus
from microfactory.services.planning import OPEN
from microfactory.services.ports import Interval, UnitOfWorkFactory
from microfactory.services.reactor import Applied
from microfactory.twin.jobs import TwinJob

READY = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.ABORTED)


@dataclass
class _Op:
    id: str
    work_order: str
    seq: int
    minutes: float
    predecessors: tuple[int, ...]
    status: WorkStatus
    good: int


@dataclass
class DispatchStats:
    dispatched: int = 0
    refreshed: int = 0


class Dispatcher:
    def __init__(self, uow: UnitOfWorkFactory, factory: Factory) -> None:
        self.uow = uow
        self.factory = factory
        self.machines = factory.machine_map
        self.products = factory.product_map
        self.stats = DispatchStats()
        self.plan_version: int | None = None
        self.queues: dict[str, list[str]] = {}
        self.ops: dict[str, _Op] = {}
        self.work: dict[str, WorkOrder] = {}
        self.by_seq: dict[str, dict[int, str]] = {}
        self.held: set[str] = set()
        self.downtimes: dict[str, list[Interval]] = {}
        self.dispatched: set[str] = set()
        self.refresh()

    # -- the view ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load the current plan, the open work, the held lots and the downtimes."""
        self.stats.refreshed += 1
        with self.uow() as tx:
            stored = tx.plans.current_plan()
            work_orders = tx.work_orders.find(status=list(OPEN))
            self.held = tx.quality.held_lots()
            self.downtimes = tx.plans.downtimes()
        self.work = {wo.id: wo for wo in work_orders}
        self.ops = {}
        self.by_seq = {}
        for wo in work_orders:
            self.by_seq[wo.id] = {op.seq: op.id for op in wo.operations}
            for op in wo.operations:
                self.ops[op.id] = _Op(
                    op.id, wo.id, op.seq, op.minutes, op.predecessors, op.status, op.good
                )
        queues: dict[str, list[tuple[datetime, str]]] = {m: [] for m in self.machines}
        if stored is not None:
            header, rows = stored
            self.plan_version = int(header["version"])
            for row in rows:
                if row["operation"] in self.ops and row["machine"] in queues:
                    queues[row["machine"]].append((row["start"], row["operation"]))
        self.queues = {m: [op for _, op in sorted(q)] for m, q in queues.items()}
        self.dispatched = {
            op for op in self.dispatched if op in self.ops and self.ops[op].status in READY
        }

    def on_plan(self, version: int) -> None:
        """A new plan was stored."""
        if version != self.plan_version:
            self.refresh()

    def on_applied(self, applied: Applied) -> None:
        """The reactor committed a batch: follow what it changed."""
        if applied.holds_changed or applied.downtimes_changed:
            with self.uow() as tx:
                self.held = tx.quality.held_lots()
                self.downtimes = tx.plans.downtimes()
        for op_id, (status, good) in applied.operations.items():
            op = self.ops.get(op_id)
            if op is None:
                continue
            op.status = WorkStatus(status)
            op.good = good
            if op.status != WorkStatus.ABORTED:
                self.dispatched.discard(op_id)

    def set_downtimes(self, downtimes: dict[str, list[Interval]]) -> None:
        self.downtimes = downtimes

    # -- the decision --------------------------------------------------------------------------

    def next_job(self, machine: str, now: datetime) -> TwinJob | None:
        """The first operation in this machine's plan sequence that is ready now."""
        for op_id in self.queues.get(machine, ()):
            op = self.ops[op_id]
            if op.status not in READY or op_id in self.dispatched:
                continue
            wo = self.work[op.work_order]
            if wo.lot in self.held or (wo.release is not None and wo.release > now):
                continue
            seqs = self.by_seq[wo.id]
            preds = [self.ops[seqs[p]] for p in op.predecessors if p in seqs]
            if any(p.status != WorkStatus.DONE for p in preds):
                continue
            if self._window_before_end(machine, now, op):
                return None
            self.dispatched.add(op_id)
            self.stats.dispatched += 1
            return self._job(wo, op, min((p.good for p in preds), default=wo.quantity))
        return None

    def _window_before_end(self, machine: str, now: datetime, op: _Op) -> bool:
        """True when a downtime or maintenance window starts before this operation would end."""
        nominal = timedelta(minutes=op.minutes / self.machines[machine].speed_factor)
        return any(
            start <= now + nominal and end > now
            for start, end, _ in self.downtimes.get(machine, ())
        )

    def _job(self, wo: WorkOrder, op: _Op, quantity: int) -> TwinJob:
        product = self.products[wo.product]
        routing = product.operation(op.seq)
        domain = next(o for o in wo.operations if o.id == op.id)
        return TwinJob(
            operation=op.id,
            work_order=wo.id,
            lot=wo.lot,
            quantity=quantity,
            fixed_minutes=routing.fixed_minutes,
            per_unit_minutes=routing.per_unit_minutes,
            setup_family=domain.setup_family,
            produces=not op.predecessors and not routing.inspection,
            characteristics=tuple(c for c in product.characteristics if c.operation == op.seq),
        )
