"""Revising and cancelling an order after it was taken, on every store: the order and its
open work orders change together, the timeline says what changed and who changed it,
planning is asked to replan, and a refused change leaves everything as it was."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from microfactory.core.clock import FixedClock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import OrderLine, OrderStatus, WorkStatus
from microfactory.services.dashboard import take_order
from microfactory.services.order_changes import (
    LineEdit,
    OrderRevision,
    cancel_and_replan,
    revise_lines,
    revise_order,
)
from microfactory.services.orders import OrderRequest
from microfactory.services.ports import UnitOfWorkFactory

from .conftest import T0, Planning


def taken(uow: UnitOfWorkFactory, clock: FixedClock) -> str:
    req = OrderRequest(
        customer="acme",
        lines=(OrderLine("bracket", 4, {"colour": "white"}), OrderLine("enclosure", 1)),
        due=T0 + timedelta(days=5),
        priority=2,
    )
    return take_order(uow, clock, req, True).id


def test_a_revision_moves_the_order_and_its_open_work(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    new_due = T0 + timedelta(days=3)
    revision = OrderRevision(due=new_due, priority=4, rush=True, notes=" ship by air ")
    order = revise_order(uow, clock, planning, order_id, revision, by="pat")
    assert (order.due, order.priority, order.rush, order.notes) == (new_due, 4, True, "ship by air")
    with uow() as tx:
        stored = tx.orders.get(order_id)
        work = tx.work_orders.find(order=order_id)
        timeline = tx.orders.timeline(order_id)
    assert stored == order and len(work) == 2
    assert all(w.due == new_due and w.weight == 8 for w in work)  # priority 4, doubled: rush
    assert stored.status == OrderStatus.RELEASED and len(stored.lines) == 2
    note = timeline[-1][2]
    assert note.startswith("revised by pat:") and "priority 2 → 4" in note and "rush" in note
    assert planning.pending() == [("order_changed", f"{order_id}: " + note.split(": ", 1)[1])]


def test_finished_work_keeps_its_terms(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    with uow() as tx:
        first = tx.work_orders.find(order=order_id)[0]
        for status in (WorkStatus.RELEASED, WorkStatus.RUNNING, WorkStatus.DONE):
            tx.work_orders.set_status(first.id, status)
        tx.commit()
    revise_order(uow, clock, planning, order_id, OrderRevision(priority=5), by="pat")
    with uow() as tx:
        done = tx.work_orders.get(first.id)
    assert done.weight == first.weight and done.due == first.due


@pytest.mark.parametrize(
    ("revision", "error", "reason"),
    [
        (OrderRevision(priority=0), ValidationError, "priority must be 1"),  # out of range
        (OrderRevision(due=T0 - timedelta(hours=1)), ValidationError, "future"),  # the past
        (OrderRevision(priority=2), ValidationError, "nothing changed"),  # no change
    ],
)
def test_a_refused_revision_changes_nothing(
    uow: UnitOfWorkFactory, revision: OrderRevision, error: type[Exception], reason: str
) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    with uow() as tx:
        before = (tx.orders.get(order_id), tx.work_orders.find(order=order_id))
    with pytest.raises(error, match=reason):
        revise_order(uow, clock, planning, order_id, revision, by="pat")
    with uow() as tx:
        assert (tx.orders.get(order_id), tx.work_orders.find(order=order_id)) == before
    assert planning.pending() == []


def test_cancel_frees_the_open_work_and_tells_planning(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    with pytest.raises(ValidationError, match="say why"):
        cancel_and_replan(uow, clock, planning, order_id, by="pat", reason="  ")
    order = cancel_and_replan(uow, clock, planning, order_id, by="pat", reason="duplicate")
    assert order.status == OrderStatus.CANCELLED
    with uow() as tx:
        assert {w.status for w in tx.work_orders.find(order=order_id)} == {WorkStatus.CANCELLED}
        assert tx.orders.timeline(order_id)[-1][2] == "cancelled by pat: duplicate"
    assert planning.pending() == [("order_cancelled", f"{order_id}: duplicate")]
    with pytest.raises(Conflict, match="already cancelled"):
        cancel_and_replan(uow, clock, planning, order_id, by="pat", reason="again")
    with pytest.raises(Conflict, match="can no longer change"):
        revise_order(uow, clock, planning, order_id, OrderRevision(priority=5), by="pat")


def test_an_unknown_order_is_not_found(uow: UnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        revise_order(uow, FixedClock(T0), Planning(uow), "SO-x", OrderRevision(rush=True), by="p")


def test_a_revision_reaches_a_network_hub_through_the_outbox(sqlite_url: str) -> None:
    import json

    from microfactory.bootstrap import DEMO_FACTORY
    from microfactory.services.factory import init_factory
    from microfactory.store import outbox
    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade
    from microfactory.store.sql import SqlUnitOfWorkFactory

    engine = make_engine(sqlite_url)
    upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    init_factory(uow, DEMO_FACTORY)
    outbox.enable(engine, "north")
    clock = FixedClock(T0)
    order_id = taken(uow, clock)
    new_due = T0 + timedelta(days=9)
    revise_order(uow, clock, Planning(uow), order_id, OrderRevision(due=new_due), by="pat")
    envelopes = [json.loads(m.payload) for m in outbox.pending(engine)]
    orders = [e["body"] for e in envelopes if e["kind"] == "order"]
    body = [b for b in orders if b["order_id"] == order_id][-1]
    assert body["due"].startswith("2026-01-14") and body["note"].startswith("revised by pat")
    engine.dispose()


# editing the lines -------------------------------------------------------------------------


def lines_of(uow: UnitOfWorkFactory, order_id: str) -> tuple[Any, list[Any]]:
    with uow() as tx:
        order = tx.orders.get(order_id)
        work = sorted(tx.work_orders.find(order=order_id), key=lambda w: w.id)
    return order, work


def test_editing_lines_reworks_only_the_changed_lines_work(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)  # line 1: 4 × bracket white; line 2: 1 × enclosure
    edits = [
        LineEdit(OrderLine("enclosure", 1), was=2),  # kept as it was, now the first line
        LineEdit(OrderLine("sensor-kit", 2, {"colour": "black"})),  # added
    ]  # line 1 (the brackets) removed
    order = revise_lines(uow, clock, planning, order_id, edits, by="pat")
    assert [(ln.product, ln.quantity) for ln in order.lines] == [
        ("enclosure", 1),
        ("sensor-kit", 2),
    ]
    stored, work = lines_of(uow, order_id)
    assert stored == order and stored.status == OrderStatus.RELEASED
    states = {w.id: (w.status, w.line_no, w.product) for w in work}
    assert states == {
        f"{order_id}-1": (WorkStatus.CANCELLED, 0, "bracket"),  # removed: makes no line
        f"{order_id}-2": (WorkStatus.PLANNED, 1, "enclosure"),  # kept, renumbered
        f"{order_id}-3": (WorkStatus.PLANNED, 2, "sensor-kit"),  # new
    }
    new = next(w for w in work if w.id == f"{order_id}-3")
    assert new.parameters["colour"] == "black" and new.lot == f"LOT-{order_id}-3"
    assert new.operations[0].id == f"{order_id}-3-1"
    with uow() as tx:
        note = tx.orders.timeline(order_id)[-1][2]
    assert note.startswith("lines revised by pat:")
    assert "line 1 removed: 4 × bracket (colour=white)" in note
    assert "line 2 added: 2 × sensor-kit (colour=black)" in note
    assert planning.pending()[0][0] == "order_changed"


def test_a_changed_quantity_gets_new_work_of_that_size(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    edits = [
        LineEdit(OrderLine("bracket", 9, {"colour": "white", "length_mm": 120.0}), was=1),
        LineEdit(OrderLine("enclosure", 1), was=2),
    ]
    revise_lines(uow, clock, planning, order_id, edits, by="pat")
    _, work = lines_of(uow, order_id)
    live = [(w.id, w.line_no, w.quantity) for w in work if w.status != WorkStatus.CANCELLED]
    assert live == [(f"{order_id}-2", 2, 1), (f"{order_id}-3", 1, 9)]


def test_a_confirmed_order_has_only_its_lines_changed(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    req = OrderRequest("acme", (OrderLine("bracket", 4),), T0 + timedelta(days=5))
    order_id = take_order(uow, clock, req, False).id
    edits = [LineEdit(OrderLine("bracket", 4), was=1), LineEdit(OrderLine("enclosure", 2))]
    order = revise_lines(uow, clock, planning, order_id, edits, by="pat")
    assert len(order.lines) == 2 and order.status == OrderStatus.CONFIRMED
    assert lines_of(uow, order_id)[1] == []  # released later, with both lines


@pytest.mark.parametrize(
    ("edits", "error", "reason"),
    [
        ([], ValidationError, "at least one line"),  # every line removed
        ([LineEdit(OrderLine("bracket", 4, {"colour": "white"}), was=1),
          LineEdit(OrderLine("enclosure", 1), was=2)], ValidationError, "nothing changed"),  # same
        ([LineEdit(OrderLine("spaceship", 1))], ValidationError, "unknown product"),  # unknown
        ([LineEdit(OrderLine("bracket", 2, {"length_mm": 900.0}), was=1)],
         ValidationError, "length_mm"),  # a parameter above its maximum
        ([LineEdit(OrderLine("bracket", 2), was=7)], ValidationError, "no line 7"),  # no such
        ([LineEdit(OrderLine("bracket", 2), was=1), LineEdit(OrderLine("bracket", 3), was=1)],
         ValidationError, "no line 1"),  # the same line twice
    ],
)  # fmt: skip
def test_refused_line_edits_change_nothing(
    uow: UnitOfWorkFactory, edits: list[LineEdit], error: type[Exception], reason: str
) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    before = lines_of(uow, order_id)
    with pytest.raises(error, match=reason):
        revise_lines(uow, clock, planning, order_id, edits, by="pat")
    assert lines_of(uow, order_id) == before
    assert planning.pending() == []


def test_a_line_whose_work_has_begun_cannot_change(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    with uow() as tx:
        first = tx.work_orders.get(f"{order_id}-1")
        for status in (WorkStatus.RELEASED, WorkStatus.RUNNING):
            tx.work_orders.set_status(first.id, status)
        tx.commit()
    before = lines_of(uow, order_id)
    edits = [LineEdit(OrderLine("enclosure", 3), was=2)]  # line 1 removed, line 2 changed
    with pytest.raises(Conflict, match=f"line 1: work order {order_id}-1 has begun"):
        revise_lines(uow, clock, planning, order_id, edits, by="pat")
    assert lines_of(uow, order_id) == before
    # its line kept as it was, the other line may still change
    keep = LineEdit(OrderLine("bracket", 4, {"colour": "white"}), was=1)
    revise_lines(uow, clock, planning, order_id, [keep, edits[0]], by="pat")
    _, work = lines_of(uow, order_id)
    assert {w.id: w.status for w in work}[f"{order_id}-1"] == WorkStatus.RUNNING


def test_a_kept_line_without_live_work_gets_new_work(uow: UnitOfWorkFactory) -> None:
    clock, planning = FixedClock(T0), Planning(uow)
    order_id = taken(uow, clock)
    with uow() as tx:
        tx.work_orders.set_status(f"{order_id}-2", WorkStatus.CANCELLED)  # cancelled alone
        tx.commit()
    edits = [
        LineEdit(OrderLine("bracket", 5, {"colour": "white"}), was=1),
        LineEdit(OrderLine("enclosure", 1), was=2),  # unchanged, but its work is gone
    ]
    revise_lines(uow, clock, planning, order_id, edits, by="pat")
    _, work = lines_of(uow, order_id)
    live = sorted((w.line_no, w.product) for w in work if w.status != WorkStatus.CANCELLED)
    assert live == [(1, "bracket"), (2, "enclosure")]
