"""Plain inputs of the quoting engine: printing processes, machines, materials and the
process parameters of the time and mass models.

The engine takes these as plain values. `print_machine` and `print_material` turn the
domain's `Machine` / `Material` (or anything with the same attributes) into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

Vec3 = tuple[float, float, float]


class Process(StrEnum):
    FDM = "fdm"
    RESIN = "resin"


#: Machine `type` values (domain `MACHINE_TYPES`) and short names → process.
MACHINE_TYPE_PROCESS: dict[str, Process] = {
    "fdm_printer": Process.FDM,
    "fdm": Process.FDM,
    "fff": Process.FDM,
    "resin_printer": Process.RESIN,
    "resin": Process.RESIN,
    "sla": Process.RESIN,
    "msla": Process.RESIN,
}
#: Material `kind` values (domain `MATERIAL_KINDS`) → process.
MATERIAL_KIND_PROCESS: dict[str, Process] = {
    "filament": Process.FDM,
    "fdm": Process.FDM,
    "resin": Process.RESIN,
}


@dataclass(frozen=True)
class PrintMachine:
    id: str
    process: Process
    build_volume_mm: Vec3
    cost_per_hour: float

    def __post_init__(self) -> None:
        if len(self.build_volume_mm) != 3 or min(self.build_volume_mm) <= 0:
            raise ValueError(f"machine {self.id}: build_volume_mm must be three positive lengths")
        if self.cost_per_hour < 0:
            raise ValueError(f"machine {self.id}: cost_per_hour must not be negative")

    @property
    def volume_label(self) -> str:
        x, y, z = self.build_volume_mm
        return f"{x:g} × {y:g} × {z:g} mm"


@dataclass(frozen=True)
class PrintMaterial:
    """`flow_mm3_s` caps the volumetric rate (hot-end limit); None = no cap."""

    id: str
    process: Process
    density_g_cm3: float
    cost_per_kg: float
    flow_mm3_s: float | None = None

    def __post_init__(self) -> None:
        if not 0.05 <= self.density_g_cm3 <= 25:
            raise ValueError(f"material {self.id}: density_g_cm3 must be between 0.05 and 25")
        if self.cost_per_kg < 0:
            raise ValueError(f"material {self.id}: cost_per_kg must not be negative")
        if self.flow_mm3_s is not None and self.flow_mm3_s <= 0:
            raise ValueError(f"material {self.id}: flow_mm3_s must be positive")


class MachineLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def build_volume_mm(self) -> tuple[float, float, float] | None: ...
    @property
    def cost_per_hour(self) -> float: ...


class MaterialLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def density_g_cm3(self) -> float: ...
    @property
    def cost_per_kg(self) -> float: ...
    @property
    def flow_mm3_s(self) -> float | None: ...


def print_machine(machine: MachineLike) -> PrintMachine | None:
    """The printing view of a domain machine; None when it is not a printer we quote for."""
    process = MACHINE_TYPE_PROCESS.get(machine.type)
    if process is None or machine.build_volume_mm is None:
        return None
    x, y, z = machine.build_volume_mm
    return PrintMachine(machine.id, process, (float(x), float(y), float(z)), machine.cost_per_hour)


def print_material(material: MaterialLike) -> PrintMaterial | None:
    process = MATERIAL_KIND_PROCESS.get(material.kind)
    if process is None:
        return None
    return PrintMaterial(
        material.id, process, material.density_g_cm3, material.cost_per_kg, material.flow_mm3_s
    )


@dataclass(frozen=True)
class FdmSettings:
    """FDM process parameters. Speeds are the slicer's nominal feed rates; the `*_factor`
    and `*_overhead_s` values are calibrated against PrusaSlicer (benchmarks/quoting)."""

    layer_height_mm: float = 0.2
    first_layer_height_mm: float = 0.2
    extrusion_width_mm: float = 0.45
    perimeters: int = 2
    top_layers: int = 4
    bottom_layers: int = 3
    infill_density: float = 0.15
    perimeter_speed_mm_s: float = 40.0
    solid_infill_speed_mm_s: float = 40.0
    infill_speed_mm_s: float = 60.0
    support_speed_mm_s: float = 50.0
    support_density: float = 0.2
    max_flow_mm3_s: float = 11.0
    acceleration_mm_s2: float = 1000.0
    travel_speed_mm_s: float = 150.0
    min_layer_time_s: float = 5.0
    min_print_speed_mm_s: float = 10.0
    # calibrated (see benchmarks/quoting/RESULTS.md)
    wall_time_factor: float = 1.536
    solid_time_factor: float = 1.092
    infill_time_factor: float = 1.421
    layer_overhead_s: float = 0.0
    part_overhead_s: float = 0.08
    mass_factor: float = 1.032
    plate_overhead_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 < self.layer_height_mm <= self.extrusion_width_mm:
            raise ValueError("layer height must be positive and not above the extrusion width")
        if self.first_layer_height_mm <= 0:
            raise ValueError("first layer height must be positive")
        if self.perimeters < 1 or self.top_layers < 0 or self.bottom_layers < 0:
            raise ValueError("perimeters must be >= 1 and skin layer counts >= 0")
        if not 0 <= self.infill_density <= 1 or not 0 <= self.support_density <= 1:
            raise ValueError("infill and support density must be within [0, 1]")
        speeds = (
            self.perimeter_speed_mm_s,
            self.solid_infill_speed_mm_s,
            self.infill_speed_mm_s,
            self.support_speed_mm_s,
            self.max_flow_mm3_s,
            self.acceleration_mm_s2,
            self.travel_speed_mm_s,
        )
        if min(speeds) <= 0:
            raise ValueError("speeds, flow and acceleration must be positive")


@dataclass(frozen=True)
class ResinSettings:
    """Masked-SLA (tilting vat) parameters. Every layer costs its exposure plus a tilt,
    whatever else is on the plate; the first layer is exposed longer and the next
    `fade_layers` fade linearly to the normal exposure; a layer covering more than
    `slow_tilt_share` of the display tilts slowly. `layer_overhead_s` is calibrated against
    PrusaSlicer's SL1 estimate (benchmarks/quoting/RESULTS.md)."""

    layer_height_mm: float = 0.05
    exposure_s: float = 2.5
    first_exposure_s: float = 30.0
    fade_layers: int = 4
    fast_tilt_s: float = 5.0
    slow_tilt_s: float = 8.0
    slow_tilt_share: float = 0.5
    layer_overhead_s: float = 0.5
    support_density: float = 0.25
    plate_overhead_s: float = 900.0

    def __post_init__(self) -> None:
        if self.layer_height_mm <= 0 or self.exposure_s <= 0 or self.first_exposure_s <= 0:
            raise ValueError("layer height and exposure times must be positive")
        if self.fade_layers < 0 or min(self.fast_tilt_s, self.slow_tilt_s) < 0:
            raise ValueError("fade layers and tilt times must not be negative")
        if self.layer_overhead_s < 0 or self.plate_overhead_s < 0:
            raise ValueError("overheads must not be negative")
        if not 0 <= self.support_density <= 1 or not 0 < self.slow_tilt_share <= 1:
            raise ValueError("support density must be in [0, 1] and slow_tilt_share in (0, 1]")
