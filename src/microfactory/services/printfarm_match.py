"""Whether a printer can run a job now, and whether an operation is ready to print: the rules
the print farm's dispatch applies, as pure functions of domain values. Each returns None when
the rule holds and the reason, in words, when it does not; a reason starts with its category
(`nozzle:`, `fit:`, `material:`, `filament:`), which says what an operator change lifts."""

from __future__ import annotations

from microfactory.orders import WorkOrder, WorkOrderOperation, WorkStatus
from microfactory.shopfloor.printers import PrinterRecord, SliceRecord


def printer_mismatch(
    record: PrinterRecord,
    *,
    profile: str,
    profile_nozzle_mm: float | None,
    material: str,
    bbox_mm: tuple[float, float, float],
) -> str | None:
    """The printer's nozzle, build volume and loaded material against the job's."""
    fitted = record.nozzle_mm
    if (
        profile_nozzle_mm is not None
        and fitted is not None
        and abs(profile_nozzle_mm - fitted) > 1e-6
    ):
        return f"nozzle: profile {profile} needs {profile_nozzle_mm:g} mm, {fitted:g} mm is fitted"
    volume = record.build_volume_mm
    if (
        volume is not None
        and any(bbox_mm)
        and not all(p <= v for p, v in zip(sorted(bbox_mm), sorted(volume), strict=True))
    ):
        size = " × ".join(f"{v:g}" for v in bbox_mm)
        return f"fit: the part ({size} mm) does not fit this printer"
    if record.spool is None:
        return f"material: needs {material}, no spool is loaded"
    if record.spool.material != material:
        return f"material: needs {material}, {record.spool.material} is loaded"
    return None


def filament_short(
    record: PrinterRecord, sliced: SliceRecord, *, material: str, margin: float
) -> str | None:
    """The spool must hold the slicer's grams times `margin`."""
    needed = (sliced.filament_g or 0.0) * margin
    left = 0.0 if record.spool is None else record.spool.remaining_g
    if left < needed:
        return f"filament: needs {needed:.1f} g of {material}, {left:.1f} g are left on the spool"
    return None


def operation_not_ready(op: WorkOrderOperation, wo: WorkOrder, machine: str) -> str | None:
    """An operation is printed when its work order is open, it is itself still to do (not
    running elsewhere) and the operations it waits for are done."""
    if wo.status in (WorkStatus.HELD, WorkStatus.CANCELLED, WorkStatus.DONE):
        return f"{op.id}: work order {wo.id} is {wo.status}"
    if op.status in (WorkStatus.DONE, WorkStatus.CANCELLED, WorkStatus.HELD):
        return f"{op.id} is {op.status}"
    if op.status is WorkStatus.RUNNING and op.machine not in (None, machine):
        return f"{op.id} runs on {op.machine}"
    by_seq = {o.seq: o for o in wo.operations}
    waiting = [p for p in op.predecessors if p in by_seq and by_seq[p].status != WorkStatus.DONE]
    if waiting:
        return f"{op.id} waits for operation {waiting[0]} of {wo.id}"
    return None
