"""Sites, areas and machines. A machine offers capabilities (what routings ask for), costs
money per hour, may have a build volume (printers, lasers), works to a shift calendar and
changes over between setup families (colour, material, fixture) in a known time. A printer
may name the host that drives it (`host`, e.g. OctoPrint) and its slicer profile (`profile`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from microfactory.core.timeutil import zone
from microfactory.shopfloor.calendar import ShiftCalendar
from microfactory.shopfloor.printers import HostSpec, check_profile

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


class FieldValueError(ValueError):
    """A broken rule about one field of a domain object; `field` names it, so a file reader
    can point at `machines[3].cost_per_hour` rather than at `machines[3]`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_number(
    value: float,
    field: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    what: str | None = None,
) -> None:
    """`value` is a finite number in [low, high] (or (low, high] with `low_open`). NaN and
    infinities are refused here, where a plain `<` comparison would let NaN through."""
    name = what or field
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldValueError(field, f"{name} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low):
        if low == 0:
            rule = "must be positive" if low_open else "must not be negative"
        else:
            rule = f"must be {'over' if low_open else 'at least'} {low:g}"
        raise FieldValueError(field, f"{name} {rule} (got {value:g})")
    if value > high:
        raise FieldValueError(field, f"{name} must be at most {high:g} (got {value:g})")


#: Upper bounds on what a factory may declare: far beyond any real shop, small enough that
#: no sum or product in planning and costing can overflow.
MAX_COST_PER_HOUR = 1e6
MAX_MINUTES = 100_000.0
"""Setup, fixed and per-unit minutes of one operation (about 69 days)."""
MAX_BUILD_MM = 100_000.0
MAX_HOURS = 1e6


def check_timezone(name: str) -> None:
    """`name` is an IANA time zone this system knows (e.g. Europe/Berlin)."""
    try:
        zone(name)
    except (ValueError, TypeError):
        raise FieldValueError(
            "timezone", f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None


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
    locale: str = "en"
    """How people at the site write dates and numbers (a CLDR locale such as en, de, en_GB)."""

    def __post_init__(self) -> None:
        check_id(self.id, "site id")
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_[0-9]{3})?", self.locale):
            raise ValueError(f"locale {self.locale!r} must look like en, de or en_GB")
        if not self.name.strip():
            raise ValueError("site name must not be empty")
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"currency {self.currency!r} must be a 3-letter ISO 4217 code")
        check_timezone(self.timezone)


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
    host: HostSpec | None = None
    profile: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "machine id")
        if self.type not in MACHINE_TYPES:
            raise ValueError(f"machine type {self.type!r} is unknown; use one of {MACHINE_TYPES}")
        if not self.capabilities:
            raise ValueError("a machine needs at least one capability")
        check_number(self.cost_per_hour, "cost_per_hour", 0, MAX_COST_PER_HOUR)
        if self.build_volume_mm is not None:
            if len(self.build_volume_mm) != 3:
                raise ValueError("build_volume_mm must be three positive lengths [x, y, z]")
            for length in self.build_volume_mm:
                check_number(length, "build_volume_mm", 0, MAX_BUILD_MM, low_open=True)
        check_number(self.setup_minutes, "setup_minutes", 0, MAX_MINUTES, what="setup times")
        for pair, minutes in self.setup_matrix.items():
            check_number(
                minutes, "setup_matrix", 0, MAX_MINUTES, what=f"setup times {pair[0]}→{pair[1]}"
            )
        check_number(self.speed_factor, "speed_factor", 0, 100, low_open=True)
        check_number(self.mtbf_hours, "mtbf_hours", 0, MAX_HOURS, low_open=True)
        check_number(self.mttr_hours, "mttr_hours", 0, MAX_HOURS, low_open=True)
        if self.host is not None and self.type != "fdm_printer":
            raise ValueError(f"a {self.host.type} host drives an fdm_printer, not a {self.type}")
        if self.host is not None and self.profile is None:
            raise ValueError("a printer with a host needs a slicer `profile`")
        if self.profile is not None:
            check_profile(self.profile)

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
