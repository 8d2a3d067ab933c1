"""Sites, areas and machines. A machine offers capabilities (what routings ask for), costs
money per hour, may have a build volume (printers, lasers), works to a shift calendar and
changes over between setup families (colour, material, fixture) in a known time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from microfactory.core.timeutil import zone
from microfactory.shopfloor.calendar import ShiftCalendar

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MACHINE_TYPES = (
    "fdm_printer",
    "resin_printer",
    "sls_printer",
    "cnc_mill",
    "cnc_lathe",
    "laser_cutter",
    "finishing",
    "painting",
    "assembly",
    "inspection",
    "packaging",
)


def check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1–64 letters, digits, '_', '.' or '-' (no spaces or '/')"
        )


class MachineState(StrEnum):
    """OPC 40001-1 MachineryItemState."""

    NOT_AVAILABLE = "NotAvailable"
    OUT_OF_SERVICE = "OutOfService"
    NOT_EXECUTING = "NotExecuting"
    EXECUTING = "Executing"


class MachineMode(StrEnum):
    """What the machine is doing within its state (OPC 40001-1 operation mode, simplified)."""

    IDLE = "idle"
    SETUP = "setup"
    PROCESSING = "processing"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: str = "UTC"
    currency: str = "EUR"

    def __post_init__(self) -> None:
        check_id(self.id, "site id")
        if not self.name.strip():
            raise ValueError("site name must not be empty")
        zone(self.timezone)
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"currency {self.currency!r} must be a 3-letter ISO 4217 code")


@dataclass(frozen=True)
class Area:
    id: str
    name: str

    def __post_init__(self) -> None:
        check_id(self.id, "area id")


@dataclass(frozen=True)
class Machine:
    """One machine. `setup_minutes` is the changeover time when the setup family changes;
    `setup_matrix` overrides it for given (from_family, to_family) pairs."""

    id: str
    name: str
    type: str
    area: str
    capabilities: frozenset[str]
    cost_per_hour: float
    calendar: ShiftCalendar = field(default_factory=ShiftCalendar)
    build_volume_mm: tuple[float, float, float] | None = None
    setup_minutes: float = 0.0
    setup_matrix: dict[tuple[str, str], float] = field(default_factory=dict)
    speed_factor: float = 1.0
    mtbf_hours: float = 400.0
    mttr_hours: float = 3.0

    def __post_init__(self) -> None:
        check_id(self.id, "machine id")
        if self.type not in MACHINE_TYPES:
            raise ValueError(f"machine type {self.type!r} is unknown; use one of {MACHINE_TYPES}")
        if not self.capabilities:
            raise ValueError("a machine needs at least one capability")
        if self.cost_per_hour < 0:
            raise ValueError("cost_per_hour must not be negative")
        if self.build_volume_mm is not None and (
            len(self.build_volume_mm) != 3 or min(self.build_volume_mm) <= 0
        ):
            raise ValueError("build_volume_mm must be three positive lengths [x, y, z]")
        if self.setup_minutes < 0 or any(v < 0 for v in self.setup_matrix.values()):
            raise ValueError("setup times must not be negative")
        if self.speed_factor <= 0:
            raise ValueError("speed_factor must be positive")
        if self.mtbf_hours <= 0 or self.mttr_hours <= 0:
            raise ValueError("mtbf_hours and mttr_hours must be positive")

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def setup_time_minutes(self, from_family: str | None, to_family: str | None) -> float:
        """Changeover time between two setup families (0 when unchanged or unknown)."""
        if from_family is None or to_family is None or from_family == to_family:
            return 0.0
        return self.setup_matrix.get((from_family, to_family), self.setup_minutes)

    def fits(self, size_mm: tuple[float, float, float]) -> bool:
        """Whether a part of this bounding box fits the build volume in some axis order."""
        if self.build_volume_mm is None:
            return True
        return all(
            p <= v for p, v in zip(sorted(size_mm), sorted(self.build_volume_mm), strict=True)
        )
