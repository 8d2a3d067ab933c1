"""Use cases: staff change an order after it was taken — a new due date, priority, rush flag
or notes (its open work orders follow), its lines (quantity, the configurator's parameters,
a line added or removed: the lines' work orders follow), or a cancellation — and planning is
told through its replan queue, so the next plan serves the change. Each change is one
transaction and is noted on the order's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, ValidationError
from microfactory.orders import (
    Order,
    OrderLine,
    OrderStatus,
    WorkOrder,
    WorkStatus,
    work_order_for_line,
)
from microfactory.services.factory import current_factory
from microfactory.services.orders import check_order_against_factory
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory
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


@dataclass(frozen=True)
class LineEdit:
    """One line of the order as edited: `was` is the number (1-based) the line had before,
    None for a line added now."""

    line: OrderLine
    was: int | None = None


STARTED_WORK = (WorkStatus.RUNNING, WorkStatus.DONE, WorkStatus.ABORTED)


def line_begun(wo: WorkOrder) -> bool:
    """Work has begun on it: a line with such work can no longer change."""
    return wo.status in STARTED_WORK or any(
        op.status in STARTED_WORK or op.actual_start is not None or op.good or op.rejected
        for op in wo.operations
    )


def _line_text(line: OrderLine) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(line.parameters.items()))
    return f"{line.quantity} × {line.product}" + (f" ({params})" if params else "")


def _edited_lines(old: Order, edits: Sequence[LineEdit]) -> tuple[OrderLine, ...]:
    """The order's new lines (ValidationError naming the line when one is refused); a kept
    line of the same product keeps its model and unit price from the quote."""
    if not edits:
        raise ValidationError("an order needs at least one line", where="line 1")
    seen: set[int] = set()
    lines = []
    for n, edit in enumerate(edits, start=1):
        line = edit.line
        if edit.was is not None:
            if not 1 <= edit.was <= len(old.lines) or edit.was in seen:
                raise ValidationError(
                    f"the order has no line {edit.was} to change", where=f"line {n}"
                )
            seen.add(edit.was)
            before = old.lines[edit.was - 1]
            if before.product == line.product:
                line = replace(line, model_ref=before.model_ref, unit_price=before.unit_price)
        lines.append(line)
    return tuple(lines)


def _line_changes(old: Order, edits: Sequence[LineEdit], lines: Sequence[OrderLine]) -> list[str]:
    out = []
    kept = {e.was for e in edits if e.was is not None}
    for n, (edit, line) in enumerate(zip(edits, lines, strict=True), start=1):
        if edit.was is None:
            out.append(f"line {n} added: {_line_text(line)}")
        elif old.lines[edit.was - 1] != line:
            out.append(
                f"line {edit.was}: {_line_text(old.lines[edit.was - 1])} → {_line_text(line)}"
            )
    out += [
        f"line {k} removed: {_line_text(old.lines[k - 1])}"
        for k in range(1, len(old.lines) + 1)
        if k not in kept
    ]
    return out


def revise_lines(
    uow: UnitOfWorkFactory,
    clock: Clock,
    planning: ReplanRequester,
    order_id: str,
    edits: Sequence[LineEdit],
    *,
    by: str,
) -> Order:
    """Replace the order's lines by `edits` with the same validation as taking an order
    (known products, quantities, the configurator's parameters; ValidationError naming the
    line). On a released order the work follows: a removed or changed line's work order is
    cancelled — refused (Conflict) once work on it has begun — a changed or added line gets a
    new work order, an unchanged line keeps its own. A replan is requested."""
    now = clock.now()
    with uow() as tx:
        old = tx.orders.get(order_id)
        if old.status in CLOSED:
            raise Conflict(f"order {order_id} is {old.status.value}; it can no longer change")
        lines = _edited_lines(old, edits)
        try:
            new = replace(old, lines=lines)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        check_order_against_factory(new, current_factory(tx))
        changed = _line_changes(old, edits, lines)
        if not changed:
            raise ValidationError("nothing changed: the order already has these lines")
        if old.status not in (OrderStatus.QUOTED, OrderStatus.CONFIRMED):
            _rework_lines(tx, old, new, edits, now)
        note = f"lines revised by {by}: " + "; ".join(changed)
        revised = tx.orders.revise(new, now, note)
        tx.commit()
    planning.request(now, "order_changed", f"{order_id}: " + "; ".join(changed))
    return revised


def _rework_lines(
    tx: UnitOfWork, old: Order, new: Order, edits: Sequence[LineEdit], now: datetime
) -> None:
    """The released order's work orders follow its edited lines (see `revise_lines`)."""
    work = tx.work_orders.find(order=old.id)
    by_line = {w.line_no: w for w in work if w.status != WorkStatus.CANCELLED and w.line_no > 0}
    keep: dict[int, int] = {}  # old line -> new line, for lines whose work stays
    for n, edit in enumerate(edits, start=1):
        if edit.was is None or edit.was not in by_line:
            continue  # an added line, or one without live work: it gets new work
        if old.lines[edit.was - 1] == new.lines[n - 1]:
            keep[edit.was] = n
    for was, wo in sorted(by_line.items()):
        if was in keep:
            continue
        if line_begun(wo):
            raise Conflict(
                f"line {was}: work order {wo.id} has begun ({wo.status.value}); "
                "its line can no longer change"
            )
        tx.work_orders.set_status(wo.id, WorkStatus.CANCELLED)
        tx.work_orders.set_line(wo.id, 0)  # it makes no line any more
    for was, n in keep.items():
        if was != n:
            tx.work_orders.set_line(by_line[was].id, n)
    used = [int(w.id.rsplit("-", 1)[1]) for w in work if w.id.rsplit("-", 1)[1].isdigit()]
    next_no = max(used, default=0) + 1
    products = current_factory(tx).product_map
    for n in range(1, len(new.lines) + 1):
        if n in keep.values():
            continue
        wo_id = f"{old.id}-{next_no}"
        tx.work_orders.add(work_order_for_line(new, n, products, wo_id, min(now, new.due)))
        next_no += 1


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
