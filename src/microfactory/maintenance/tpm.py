"""Total productive maintenance: preventive maintenance plans (calendar-based and
usage-based: run hours, cycles, printed hours), maintenance work orders (open → planned →
done, with parts and labour), PM windows as machine unavailability for the scheduler, and
autonomous-maintenance checklists per machine type. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from microfactory.core.errors import Conflict
from microfactory.shopfloor.calendar import Window


class Trigger(StrEnum):
    CALENDAR_DAYS = "calendar_days"
    RUN_HOURS = "run_hours"
    CYCLES = "cycles"


class MaintenanceKind(StrEnum):
    PREVENTIVE = "preventive"
    PREDICTIVE = "predictive"
    CORRECTIVE = "corrective"


class MaintenanceStatus(StrEnum):
    OPEN = "open"
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


TRANSITIONS: dict[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    MaintenanceStatus.OPEN: frozenset({MaintenanceStatus.PLANNED, MaintenanceStatus.CANCELLED}),
    MaintenanceStatus.PLANNED: frozenset(
        {MaintenanceStatus.DONE, MaintenanceStatus.OPEN, MaintenanceStatus.CANCELLED}
    ),
    MaintenanceStatus.DONE: frozenset(),
    MaintenanceStatus.CANCELLED: frozenset(),
}


@dataclass(frozen=True)
class Part:
    part: str
    quantity: float
    unit: str = "pcs"

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("part quantity must be positive")


@dataclass(frozen=True)
class PmPlan:
    """Maintain machines of `machine_type` every `interval` units of `trigger`
    (days, run hours or cycles); the work takes `minutes` and `labour_hours` of a technician
    and uses `parts`. `lead` is the share of the interval at which the work order is opened
    and its window planned (0.9: when 90 % of the interval is used)."""

    id: str
    machine_type: str
    trigger: Trigger
    interval: float
    minutes: float
    labour_hours: float
    parts: tuple[Part, ...] = ()
    tasks: tuple[str, ...] = ()
    lead: float = 0.9

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.minutes <= 0 or self.labour_hours < 0:
            raise ValueError("PM interval and minutes must be positive, labour not negative")
        if not 0 < self.lead <= 1:
            raise ValueError("PM lead must be in (0, 1]")


@dataclass(frozen=True)
class Usage:
    """A machine's counters since its last maintenance under a plan."""

    machine: str
    run_hours: float
    cycles: int
    since: datetime

    def amount(self, trigger: Trigger, now: datetime) -> float:
        if trigger == Trigger.RUN_HOURS:
            return self.run_hours
        if trigger == Trigger.CYCLES:
            return float(self.cycles)
        return (now - self.since).total_seconds() / 86400.0


def due_share(plan: PmPlan, usage: Usage, now: datetime) -> float:
    """How much of the plan's interval has been used (1.0 = due now)."""
    return usage.amount(plan.trigger, now) / plan.interval


def is_due(plan: PmPlan, usage: Usage, now: datetime) -> bool:
    """Whether a work order should be opened now (the lead share of the interval is used)."""
    return due_share(plan, usage, now) >= plan.lead


@dataclass(frozen=True)
class MaintenanceWorkOrder:
    id: str
    machine: str
    kind: MaintenanceKind
    created: datetime
    minutes: float
    plan: str = ""
    reason: str = ""
    status: MaintenanceStatus = MaintenanceStatus.OPEN
    window: Window | None = None
    started: datetime | None = None
    done: datetime | None = None
    parts: tuple[Part, ...] = ()
    labour_hours: float = 0.0
    checklist: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise ValueError("maintenance minutes must be positive")
        if self.status == MaintenanceStatus.PLANNED and self.window is None:
            raise ValueError("a planned maintenance work order needs a window")

    def _move(self, target: MaintenanceStatus) -> None:
        if target not in TRANSITIONS[self.status]:
            raise Conflict(
                f"maintenance work order {self.id} cannot go from {self.status} to {target}"
            )

    def plan_window(self, start: datetime) -> MaintenanceWorkOrder:
        """open → planned: the machine is unavailable for [start, start + minutes)."""
        self._move(MaintenanceStatus.PLANNED)
        window = Window(start, start + timedelta(minutes=self.minutes), f"maintenance {self.id}")
        return replace(self, status=MaintenanceStatus.PLANNED, window=window)

    def complete(
        self, started: datetime, done: datetime, labour_hours: float
    ) -> MaintenanceWorkOrder:
        """planned → done, with the actual times and labour."""
        self._move(MaintenanceStatus.DONE)
        if done < started:
            raise ValueError("maintenance cannot end before it started")
        return replace(
            self,
            status=MaintenanceStatus.DONE,
            started=started,
            done=done,
            labour_hours=labour_hours,
        )


def open_pm(
    plan: PmPlan, machine: str, machine_type: str, wo_id: str, now: datetime
) -> MaintenanceWorkOrder:
    """A preventive work order from a plan, with its parts, labour and checklist."""
    return MaintenanceWorkOrder(
        id=wo_id,
        machine=machine,
        kind=MaintenanceKind.PREVENTIVE,
        created=now,
        minutes=plan.minutes,
        plan=plan.id,
        reason=f"{plan.trigger.value} interval {plan.interval:g}",
        parts=plan.parts,
        labour_hours=plan.labour_hours,
        checklist=plan.tasks or checklist_for(machine_type),
    )


def unavailability(orders: list[MaintenanceWorkOrder]) -> dict[str, list[Window]]:
    """Planned maintenance windows per machine: what the scheduler must plan around."""
    out: dict[str, list[Window]] = {}
    for wo in orders:
        if wo.status == MaintenanceStatus.PLANNED and wo.window is not None:
            out.setdefault(wo.machine, []).append(wo.window)
    for windows in out.values():
        windows.sort(key=lambda w: w.start)
    return out


# -- the demo shop's plans and checklists ------------------------------------------------------

DEFAULT_PLANS: tuple[PmPlan, ...] = (
    PmPlan(
        "pm-fdm-nozzle",
        "fdm_printer",
        Trigger.RUN_HOURS,
        160.0,
        60.0,
        1.0,
        (Part("nozzle 0.4 mm", 1), Part("PTFE tube", 1)),
        ("replace nozzle", "replace PTFE liner", "clean extruder gears", "check belt tension"),
    ),
    PmPlan(
        "pm-resin-vat",
        "resin_printer",
        Trigger.RUN_HOURS,
        200.0,
        45.0,
        0.75,
        (Part("FEP film", 1),),
        ("replace FEP film", "clean build plate", "check UV source power"),
    ),
    PmPlan(
        "pm-cnc-spindle",
        "cnc_mill",
        Trigger.RUN_HOURS,
        250.0,
        120.0,
        2.0,
        (Part("spindle grease", 0.05, "kg"), Part("coolant filter", 1)),
        ("grease spindle bearings", "replace coolant filter", "check tool holder runout"),
    ),
    PmPlan(
        "pm-laser-optics",
        "laser_cutter",
        Trigger.RUN_HOURS,
        250.0,
        45.0,
        0.75,
        (Part("lens cleaning kit", 1),),
        ("clean lens and mirrors", "check beam alignment", "empty fume filter"),
    ),
    PmPlan(
        "pm-paint-booth",
        "painting",
        Trigger.CALENDAR_DAYS,
        14.0,
        60.0,
        1.0,
        (Part("booth filter", 2),),
        ("replace booth filters", "clean spray nozzles", "check extraction airflow"),
    ),
    PmPlan(
        "pm-finish-station",
        "finishing",
        Trigger.CYCLES,
        1500.0,
        30.0,
        0.5,
        (Part("sanding belts", 4),),
        ("replace sanding belts", "check UV post-cure lamps"),
    ),
)

CHECKLISTS: dict[str, tuple[str, ...]] = {
    "fdm_printer": (
        "build plate clean and level",
        "filament path free, no grinding",
        "no loose belts or wobble",
        "fans running",
    ),
    "resin_printer": (
        "vat film intact, no cloudiness",
        "resin level and temperature",
        "lid closed",
    ),
    "cnc_mill": (
        "coolant level",
        "way lube level",
        "chips cleared from enclosure",
        "no unusual spindle noise",
    ),
    "laser_cutter": ("lens clean", "exhaust running", "water chiller temperature", "bed clear"),
    "painting": ("filters not clogged", "gun cleaned", "extraction running"),
    "finishing": ("abrasives in good condition", "dust extraction running"),
    "assembly": ("tools in shadow board", "torque driver calibrated"),
    "inspection": ("CMM probe qualified", "reference sphere clean", "room temperature 20 °C"),
}


def checklist_for(machine_type: str) -> tuple[str, ...]:
    """The autonomous-maintenance checklist operators run at the start of a shift."""
    return CHECKLISTS.get(machine_type, ("machine clean", "no leaks or loose parts"))


def plans_for(machine_type: str, plans: tuple[PmPlan, ...] = DEFAULT_PLANS) -> list[PmPlan]:
    return [p for p in plans if p.machine_type == machine_type]
