"""A planner's pin: an operation kept on a machine and, optionally, at a start time, whatever
the optimiser would rather do. Pins are decisions of people; the planner plans around them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from microfactory.shopfloor.machines import check_id


@dataclass(frozen=True)
class OperationPin:
    """`operation` runs on `machine`; when `start` is set, it starts then. `by` is who
    pinned it and `at` when."""

    operation: str
    machine: str
    start: datetime | None
    by: str
    at: datetime

    def __post_init__(self) -> None:
        check_id(self.operation, "operation id")
        check_id(self.machine, "machine id")
        if self.at.tzinfo is None or (self.start is not None and self.start.tzinfo is None):
            raise ValueError("pin times must be timezone-aware")
