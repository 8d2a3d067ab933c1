"""Closing maintenance work at the machine: a technician starts a PM or repair work order and
closes it with its checklist ticked, the parts used and the hours worked.

What the work order records (parts, hours) is written to it first; the close itself goes the
one event path: the station records `pm_done:<work order>` on the machine (as a machine that
reports its own maintenance would), and TPM, in the reactor, marks the work order done and
starts the machine's usage counters again. A checklist with an unticked item, a part with a
bad quantity or a work order that is not open is refused with the reason; nothing is written."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.maintenance.tpm import MaintenanceStatus, Part
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.stations import StationService

OPEN = (MaintenanceStatus.OPEN.value, MaintenanceStatus.PLANNED.value)
MAX_LABOUR_HOURS = 1000.0


def parse_parts(text: str) -> tuple[Part, ...]:
    """Parts used, one per line: `part, quantity[, unit]` (unit default pcs)."""
    parts: list[Part] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) not in (2, 3) or not fields[0]:
            raise ValidationError(
                f"line {n}: {line.strip()!r} is not 'part, quantity[, unit]'", where="parts"
            )
        try:
            quantity = float(fields[1])
        except ValueError:
            raise ValidationError(
                f"line {n}: quantity {fields[1]!r} is not a number", where="parts"
            ) from None
        if not (math.isfinite(quantity) and 0 < quantity <= 1e6):
            raise ValidationError(
                f"line {n}: quantity must be above 0 and at most 1,000,000", where="parts"
            )
        unit = fields[2] if len(fields) == 3 and fields[2] else "pcs"
        parts.append(Part(fields[0][:100], quantity, unit[:16]))
    return tuple(parts)


def parts_text(parts: Sequence[dict[str, Any]]) -> str:
    """The parts of a work order row in the form `parse_parts` reads."""
    return "\n".join(f"{p['part']}, {p['quantity']:g}, {p['unit']}" for p in parts)


@dataclass(frozen=True)
class MaintenanceClose:
    work_order: str
    by: str
    checked: tuple[str, ...]
    parts: tuple[Part, ...]
    labour_hours: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.labour_hours) and 0 <= self.labour_hours <= MAX_LABOUR_HOURS):
            raise ValidationError(
                f"hours worked must be 0 to {MAX_LABOUR_HOURS:g}", where="labour_hours"
            )
        if not self.by:
            raise ValidationError("who closes it must be known", where="user")


class MaintenanceWork:
    def __init__(self, uow: UnitOfWorkFactory, stations: StationService) -> None:
        self.uow = uow
        self.stations = stations

    def get(self, work_order: str) -> dict[str, Any]:
        with self.uow() as tx:
            for row in tx.records.maintenance_orders():
                if row["id"] == work_order:
                    return row
        raise NotFound(f"maintenance work order {work_order} does not exist")

    def _open(self, work_order: str) -> dict[str, Any]:
        row = self.get(work_order)
        if row["status"] not in OPEN:
            raise Conflict(f"maintenance work order {work_order} is {row['status']}, not open")
        return row

    def start(self, work_order: str, by: str) -> dict[str, Any]:
        """The technician begins: the machine is in maintenance from now."""
        row = self._open(work_order)
        if row["started"] is not None:
            raise Conflict(f"maintenance work order {work_order} was started already")
        self.stations.maintenance(row["machine"], work_order, by, done=False)
        return self.get(work_order)

    def close(self, req: MaintenanceClose) -> dict[str, Any]:
        row = self._open(req.work_order)
        missing = [item for item in row["checklist"] if item not in req.checked]
        if missing:
            raise ValidationError(
                "not ticked on the checklist: " + "; ".join(missing), where="checklist"
            )
        unknown = [item for item in req.checked if item not in row["checklist"]]
        if unknown:
            raise ValidationError(
                "not on this work order's checklist: " + "; ".join(unknown), where="checklist"
            )
        with self.uow() as tx:
            tx.records.save_maintenance(
                dict(
                    row,
                    parts=[
                        {"part": p.part, "quantity": p.quantity, "unit": p.unit} for p in req.parts
                    ],
                    labour_hours=req.labour_hours,
                )
            )
            tx.commit()
        self.stations.maintenance(row["machine"], req.work_order, req.by, done=True)
        closed = self.get(req.work_order)
        if closed["status"] != MaintenanceStatus.DONE.value:
            raise Conflict(
                f"maintenance work order {req.work_order} is still {closed['status']} "
                "after its close was recorded"
            )
        return closed
