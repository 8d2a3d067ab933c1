"""Use cases: staff change an order after it was taken — a new due date, priority, rush flag
or notes (its open work orders follow), or a cancellation — and planning is told through its
replan queue, so the next plan serves the change. Each change is one transaction and is
noted on the order's timeline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, ValidationError
from microfactory.orders import Order, OrderStatus, WorkStatus
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.quality import ReplanRequester

CLOSED = (OrderStatus.DONE, OrderStatus.CANCELLED)
OPEN_WORK = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.HELD)
"""Work that a cancellation cancels (running work finishes or is aborted on the floor)."""
FINISHED_WORK = (WorkStatus.DONE, WorkStatus.CANCELLED, WorkStatus.ABORTED)


@dataclass(frozen=True)
class OrderRevision:
    """New terms for an order; None keeps the current value."""

    due: datetime | None = None
    priority: int | None = None
    rush: bool | None = None
    notes: str | None = None


def _changes(old: Order, new: Order) -> list[str]:
    out = []
    if new.due != old.due:
        out.append(f"due {old.due:%Y-%m-%d %H:%M} → {new.due:%Y-%m-%d %H:%M} UTC")
    if new.priority != old.priority:
        out.append(f"priority {old.priority} → {new.priority}")
    if new.rush != old.rush:
        out.append("rush" if new.rush else "rush removed")
    if new.notes != old.notes:
        out.append("notes changed")
    return out


def revise_order(
    uow: UnitOfWorkFactory,
    clock: Clock,
    planning: ReplanRequester,
    order_id: str,
    revision: OrderRevision,
    *,
    by: str,
) -> Order:
    """Apply `revision` (ValidationError naming the field when a value is refused; Conflict
    when the order is done or cancelled); open work orders take the new due date and weight;
    a replan is requested. A revision that changes nothing is refused."""
    now = clock.now()
    with uow() as tx:
        old = tx.orders.get(order_id)
        if old.status in CLOSED:
            raise Conflict(f"order {order_id} is {old.status.value}; it can no longer change")
        if revision.due is not None and revision.due <= now:
            raise ValidationError("the new due date must be in the future", where="due")
        try:
            new = replace(
                old,
                due=old.due if revision.due is None else revision.due,
                priority=old.priority if revision.priority is None else revision.priority,
                rush=old.rush if revision.rush is None else revision.rush,
                notes=old.notes if revision.notes is None else revision.notes.strip(),
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        changed = _changes(old, new)
        if not changed:
            raise ValidationError("nothing changed: the order already has these terms")
        note = f"revised by {by}: " + "; ".join(changed)
        revised = tx.orders.revise(new, now, note)
        for wo in tx.work_orders.find(order=order_id):
            if wo.status not in FINISHED_WORK:  # running work takes the new terms too
                tx.work_orders.set_terms(wo.id, revised.due, revised.weight)
        tx.commit()
    planning.request(now, "order_changed", f"{order_id}: " + "; ".join(changed))
    return revised


def cancel_and_replan(
    uow: UnitOfWorkFactory,
    clock: Clock,
    planning: ReplanRequester,
    order_id: str,
    *,
    by: str,
    reason: str,
) -> Order:
    """Cancel the order and its open work orders (Conflict once done or cancelled; a reason
    is required) and request a replan that frees their capacity."""
    if not reason.strip():
        raise ValidationError("say why the order is cancelled", where="reason")
    now = clock.now()
    with uow() as tx:
        order = tx.orders.get(order_id)
        if order.status in CLOSED:
            raise Conflict(f"order {order_id} is already {order.status.value}")
        cancelled = tx.orders.set_status(
            order_id, OrderStatus.CANCELLED, now, note=f"cancelled by {by}: {reason.strip()}"
        )
        for wo in tx.work_orders.find(order=order_id):
            if wo.status in OPEN_WORK:
                tx.work_orders.set_status(wo.id, WorkStatus.CANCELLED)
        tx.commit()
    planning.request(now, "order_cancelled", f"{order_id}: {reason.strip()}")
    return cancelled
