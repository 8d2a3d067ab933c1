"""Shop-floor domain: sites, areas, machines, capabilities, calendars and machine states."""

from microfactory.shopfloor.calendar import Shift, ShiftCalendar, Window
from microfactory.shopfloor.machines import (
    MACHINE_TYPES,
    Area,
    Machine,
    MachineMode,
    MachineState,
    Site,
)

__all__ = [
    "MACHINE_TYPES",
    "Area",
    "Machine",
    "MachineMode",
    "MachineState",
    "Shift",
    "ShiftCalendar",
    "Site",
    "Window",
]
