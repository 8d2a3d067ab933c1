"""The dispatch rules as pure functions: a printer matches a job or says why not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from microfactory.orders import WorkOrder, WorkOrderOperation, WorkStatus
from microfactory.services.printfarm_match import (
    filament_short,
    operation_not_ready,
    printer_mismatch,
)
from microfactory.shopfloor.printers import PrinterRecord, SliceRecord, Spool

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
READY = PrinterRecord(
    machine="p1",
    spool=Spool("pla-black", "L1", 500.0),
    nozzle_mm=0.4,
    build_volume_mm=(250, 210, 220),
)


@pytest.mark.parametrize(
    ("record", "bbox", "reason"),
    [
        # everything matches
        (READY, (20.0, 20.0, 10.0), None),
        # a 0.6 mm nozzle fitted, the profile is for 0.4 mm
        (PrinterRecord(**{**READY.__dict__, "nozzle_mm": 0.6}), (20.0, 20.0, 10.0), "nozzle:"),
        # too tall for the printer in any pose
        (READY, (230.0, 230.0, 230.0), "fit:"),
        # too wide in the plate's both directions
        (READY, (230.0, 225.0, 10.0), "fit:"),
        # fits once turned (sorted extents are compared, as the quote's poses are)
        (READY, (240.0, 20.0, 200.0), None),
        # no spool
        (
            PrinterRecord(**{**READY.__dict__, "spool": None}),
            (10.0, 10.0, 2.0),
            "material: needs pla-black, no spool",
        ),
        # another material
        (
            PrinterRecord(**{**READY.__dict__, "spool": Spool("pla-white")}),
            (10.0, 10.0, 2.0),
            "material: needs pla-black, pla-white is loaded",
        ),
    ],
)
def test_a_printer_matches_a_job_or_says_why_not(
    record: PrinterRecord, bbox: tuple[float, float, float], reason: str | None
) -> None:
    why = printer_mismatch(
        record, profile="fdm", profile_nozzle_mm=0.4, material="pla-black", bbox_mm=bbox
    )
    assert (why is None) if reason is None else (why is not None and why.startswith(reason))


@pytest.mark.parametrize(
    ("grams_left", "sliced_g", "short"),
    [
        (500.0, 12.0, False),  # plenty
        (12.5, 12.0, True),  # under the 5 % margin
        (12.7, 12.0, False),  # just over it
    ],
)
def test_a_spool_must_hold_the_job_with_a_margin(
    grams_left: float, sliced_g: float, short: bool
) -> None:
    record = PrinterRecord(machine="p1", spool=Spool("pla-black", remaining_g=grams_left))
    sliced = SliceRecord("k", "sha", "fdm", 1, True, T0, 60.0, sliced_g)
    why = filament_short(record, sliced, material="pla-black", margin=1.05)
    assert (why is not None) is short


def op(
    seq: int,
    status: WorkStatus = WorkStatus.RELEASED,
    machine: str | None = None,
    preds: tuple[int, ...] = (),
) -> WorkOrderOperation:
    return WorkOrderOperation(
        f"WO-1-{seq}",
        "WO-1",
        seq,
        "op",
        "fdm_print",
        10.0,
        status=status,
        machine=machine,
        predecessors=preds,
    )


def wo(*ops: WorkOrderOperation, status: WorkStatus = WorkStatus.RELEASED) -> WorkOrder:
    return WorkOrder("WO-1", "SO-1", 1, "part", 1, T0, 1, ops, status=status)


@pytest.mark.parametrize(
    ("operation", "order", "reason"),
    [
        # released, nothing before it
        (op(1), wo(op(1)), None),
        # held work order
        (op(1), wo(op(1), status=WorkStatus.HELD), "work order WO-1 is held"),
        # already done
        (op(1, WorkStatus.DONE), wo(op(1, WorkStatus.DONE)), "is done"),
        # running on another printer
        (op(1, WorkStatus.RUNNING, "p2"), wo(op(1, WorkStatus.RUNNING, "p2")), "runs on p2"),
        # running here (a retry after an abort the reactor has not moved back yet)
        (op(1, WorkStatus.RUNNING, "p1"), wo(op(1, WorkStatus.RUNNING, "p1")), None),
        # waits for operation 1
        (op(2, preds=(1,)), wo(op(1), op(2, preds=(1,))), "waits for operation 1"),
    ],
)
def test_an_operation_is_ready_to_print_or_says_why_not(
    operation: WorkOrderOperation, order: WorkOrder, reason: str | None
) -> None:
    why = operation_not_ready(operation, order, "p1")
    assert (why is None) if reason is None else (why is not None and reason in why)
