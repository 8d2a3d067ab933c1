"""Idle while late: a machine's idle time overlapping late, ready, unstarted work it can do,
from hand-made rows whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.maintenance.oee import StateSpan
from microfactory.orders import WorkStatus
from microfactory.orders.factory_file import load_factory
from microfactory.orders.orders import WorkOrder, WorkOrderOperation
from microfactory.services.idle_while_late import idle_while_late, late_work

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)
FACTORY = load_factory(DEMO_FACTORY, at=T0)


def op(seq: int, capability: str, **kw: object) -> WorkOrderOperation:
    return WorkOrderOperation(
        id=f"WO-1-{seq}", work_order="WO-1", seq=seq, name=f"op {seq}", capability=capability,
        minutes=60.0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def work_order(*ops: WorkOrderOperation, due: datetime = T0 + 2 * H) -> WorkOrder:
    return WorkOrder(
        id="WO-1", order="SO-1", line_no=1, product="alu-plate", quantity=1, due=due,
        weight=1, operations=ops, lot="LOT-1",
    )  # fmt: skip


def idle(machine: str, start: datetime, end: datetime) -> StateSpan:
    return StateSpan(machine, start, end, "NotExecuting", "idle", None)


END = T0 + 10 * H


def test_idle_after_the_due_date_with_ready_work_counts() -> None:
    # the mill is idle from T0 to T0+6h; the milling is due at T0+2h and starts at T0+5h
    wo = work_order(op(1, "cnc_mill", actual_start=T0 + 5 * H, actual_end=T0 + 6 * H))
    got = idle_while_late(FACTORY, {"cnc": [idle("cnc", T0, T0 + 6 * H)]}, late_work([wo], [], END))
    assert got["hours"] == pytest.approx(3.0)
    assert got["by_machine"] == {"cnc": 3.0} and got["worst_machine"] == "cnc"


def test_work_waiting_for_its_predecessor_is_not_ready() -> None:
    # the laser step waits for the milling, which ends at T0+4h: late and ready from then on
    wo = work_order(
        op(1, "cnc_mill", actual_start=T0, actual_end=T0 + 4 * H),
        op(2, "laser_engrave", predecessors=(1,)),
    )
    got = idle_while_late(
        FACTORY, {"laser": [idle("laser", T0, T0 + 7 * H)]}, late_work([wo], [], END)
    )
    assert got["by_machine"] == {"laser": 3.0}


def test_a_held_lot_and_another_capability_do_not_count() -> None:
    wo = work_order(op(1, "cnc_mill"))
    holds = [{"lot": "LOT-1", "held_at": T0 + 1 * H, "released_at": T0 + 8 * H}]
    spans = {
        "cnc": [idle("cnc", T0, T0 + 10 * H)],
        "paint": [idle("paint", T0, T0 + 10 * H)],  # cannot mill
    }
    got = idle_while_late(FACTORY, spans, late_work([wo], holds, END))
    assert got["by_machine"] == {"cnc": 2.0}  # late from T0+2h, held until T0+8h, to the end


def test_busy_broken_or_on_time_is_not_idle_while_late() -> None:
    wo = work_order(op(1, "cnc_mill", actual_start=T0 + 5 * H), due=T0 + 4 * H)
    spans = {
        "cnc": [
            idle("cnc", T0, T0 + 3 * H),  # idle, but the work is not late yet
            StateSpan("cnc", T0 + 3 * H, T0 + 5 * H, "OutOfService", "idle", "breakdown"),
        ]
    }
    got = idle_while_late(FACTORY, spans, late_work([wo], [], END))
    assert got["hours"] == 0.0 and got["by_machine"] == {} and got["worst_machine"] is None


def test_a_cancelled_work_order_never_counts() -> None:
    wo = work_order(op(1, "cnc_mill"))
    cancelled = WorkOrder(**{**wo.__dict__, "status": WorkStatus.CANCELLED})
    got = idle_while_late(FACTORY, {"cnc": [idle("cnc", T0, END)]}, late_work([cancelled], [], END))
    assert got["hours"] == 0.0
