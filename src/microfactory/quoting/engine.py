"""The quoting engine: a validated model, a material, a quantity and the factory's printers
in; the chosen process, machine, pose, time, mass and price out. Pure: no clock, no store.

Machine choice: among machines of the material's process, the pose with the best score that
fits each machine is taken, and the machine with the lowest line cost wins. When nothing of
that process fits, the refusal says whether another process would take it; when nothing
fits at all, it names the largest build volume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from microfactory.core.errors import ValidationError
from microfactory.quoting.geometry import (
    Geometry,
    Orientation,
    OrientationWeights,
    analyze,
    fits,
    layer_profile,
    surface_profile,
)
from microfactory.quoting.intake import LoadedModel
from microfactory.quoting.pricing import PriceBreakdown, PricingPolicy, price_line
from microfactory.quoting.print_model import (
    PartEstimate,
    fdm_estimate,
    fdm_features,
    resin_estimate,
    resin_plate_seconds,
)
from microfactory.quoting.processes import (
    FdmSettings,
    PrintMachine,
    PrintMaterial,
    Process,
    ResinSettings,
)

WEIGHTS: dict[Process, OrientationWeights] = {
    Process.FDM: OrientationWeights(),
    Process.RESIN: OrientationWeights(support_s_per_mm3=0.02, height_s_per_mm=170.0),
}


@dataclass(frozen=True)
class QuoteOptions:
    fdm: FdmSettings = field(default_factory=FdmSettings)
    resin: ResinSettings = field(default_factory=ResinSettings)
    pricing: PricingPolicy = field(default_factory=PricingPolicy)
    plate_gap_mm: float = 5.0


@dataclass(frozen=True)
class MachinePlan:
    """How the line runs on one machine."""

    machine: PrintMachine
    orientation: Orientation
    part: PartEstimate
    parts_per_plate: int
    plates: int
    machine_hours: float


@dataclass(frozen=True)
class ModelQuote:
    model: str
    process: Process
    machine_id: str
    material_id: str
    quantity: int
    volume_mm3: float
    surface_mm2: float
    bbox_mm: tuple[float, float, float]
    orientation: str
    oriented_bbox_mm: tuple[float, float, float]
    support_volume_mm3: float
    layers: int
    print_hours_per_part: float
    parts_per_plate: int
    plates: int
    machine_hours: float
    mass_g: float
    """Per part, support material included."""
    price: PriceBreakdown
    eligible_machines: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def mass_g_total(self) -> float:
        return self.mass_g * self.quantity


def parts_per_plate(
    extents: tuple[float, float, float], build: tuple[float, float, float], gap: float
) -> int:
    ex, ey, _ = extents
    bx, by, _ = build

    def grid(a: float, b: float) -> int:
        return int((bx + gap) // (a + gap)) * int((by + gap) // (b + gap))

    return max(1, grid(ex, ey), grid(ey, ex))


def _plan(
    loaded: LoadedModel,
    geo: Geometry,
    machine: PrintMachine,
    material: PrintMaterial,
    quantity: int,
    options: QuoteOptions,
    parts: dict[str, PartEstimate],
) -> MachinePlan | None:
    pose = next(
        (
            o
            for o in geo.ranked(WEIGHTS[machine.process])
            if fits(o.extents_mm, machine.build_volume_mm)
        ),
        None,
    )
    if pose is None:
        return None
    per_plate = parts_per_plate(pose.extents_mm, machine.build_volume_mm, options.plate_gap_mm)
    plates = math.ceil(quantity / per_plate)
    if machine.process is Process.FDM:
        s = options.fdm
        part = parts.get(pose.label) or fdm_estimate(
            fdm_features(
                geo.volume_mm3,
                surface_profile(loaded.mesh, pose),
                pose.height_mm,
                pose.support_volume_mm3,
                s,
                material.flow_mm3_s,
            ),
            s,
        )
        parts[pose.label] = part  # machines of one process share the pose's estimate
        seconds = quantity * part.print_s + plates * s.plate_overhead_s
    else:
        r = options.resin
        layers = max(1, math.ceil(pose.height_mm / r.layer_height_mm - 1e-9))
        _, section = layer_profile(surface_profile(loaded.mesh, pose), r.layer_height_mm, layers)
        display = machine.build_volume_mm[0] * machine.build_volume_mm[1]
        part = resin_estimate(
            geo.volume_mm3, pose.height_mm, pose.support_volume_mm3, r, section, display
        )
        on_plate = min(per_plate, quantity)
        plate_s, _ = resin_plate_seconds(pose.height_mm, r, section * on_plate, display)
        seconds = plates * (plate_s + r.plate_overhead_s)
    return MachinePlan(machine, pose, part, per_plate, plates, seconds / 3600.0)


def _largest(machines: Sequence[PrintMachine]) -> PrintMachine:
    return max(machines, key=lambda m: math.prod(m.build_volume_mm))


def quote_model(
    loaded: LoadedModel,
    *,
    material: str,
    quantity: int,
    machines: Sequence[PrintMachine],
    materials: Sequence[PrintMaterial],
    options: QuoteOptions | None = None,
    geometry: Geometry | None = None,
) -> ModelQuote:
    """Price one line. Raises `ValidationError` for an unknown material, a bad quantity or a
    model that fits no machine (the message names the largest build volume)."""
    options = options or QuoteOptions()
    if not isinstance(quantity, int) or quantity < 1:
        raise ValidationError("quantity must be a whole number of at least 1", where="quantity")
    by_id = {m.id: m for m in materials}
    mat = by_id.get(material)
    if mat is None:
        raise ValidationError(
            f"unknown material {material!r}; printable materials: {sorted(by_id) or 'none'}",
            where="material",
        )
    if not machines:
        raise ValidationError("the factory has no 3D printers with a build volume to quote for")
    geo = geometry or analyze(loaded.mesh, volume_mm3=loaded.volume_mm3)
    own = [m for m in machines if m.process is mat.process]
    warnings = list(loaded.warnings)
    if not own:
        raise ValidationError(
            f"no {mat.process.value} printer in the factory for material {mat.id}",
            where="material",
        )
    parts: dict[str, PartEstimate] = {}
    plans = [p for m in own if (p := _plan(loaded, geo, m, mat, quantity, options, parts))]
    if not plans:
        raise ValidationError(_refusal(geo, own, machines, mat), where=loaded.name)
    best = min(plans, key=lambda p: p.machine_hours * p.machine.cost_per_hour)
    preferred = geo.ranked(WEIGHTS[mat.process])[0]
    if best.orientation.label != preferred.label:
        warnings.append(
            f"preferred pose '{preferred.label}' does not fit; printed '{best.orientation.label}'"
        )
    if best.orientation.support_volume_mm3 > 0:
        warnings.append(
            f"needs support: about {best.orientation.support_volume_mm3 / 1000:.1f} cm³ "
            "of support region (estimate from overhang area)"
        )
    part = best.part
    price = price_line(
        process=mat.process,
        quantity=quantity,
        machine_hours=best.machine_hours,
        machine_cost_per_hour=best.machine.cost_per_hour,
        mass_g_per_part=part.mass_g(mat.density_g_cm3),
        material_cost_per_kg=mat.cost_per_kg,
        support_mm3_per_part=part.support_material_mm3,
        policy=options.pricing,
    )
    return ModelQuote(
        model=loaded.name,
        process=mat.process,
        machine_id=best.machine.id,
        material_id=mat.id,
        quantity=quantity,
        volume_mm3=geo.volume_mm3,
        surface_mm2=geo.surface_mm2,
        bbox_mm=geo.bbox_mm,
        orientation=best.orientation.label,
        oriented_bbox_mm=best.orientation.extents_mm,
        support_volume_mm3=best.orientation.support_volume_mm3,
        layers=part.layers,
        print_hours_per_part=part.print_s / 3600.0,
        parts_per_plate=best.parts_per_plate,
        plates=best.plates,
        machine_hours=best.machine_hours,
        mass_g=part.mass_g(mat.density_g_cm3),
        price=price,
        eligible_machines=tuple(p.machine.id for p in plans),
        warnings=tuple(warnings),
    )


def _refusal(
    geo: Geometry,
    own: Sequence[PrintMachine],
    machines: Sequence[PrintMachine],
    mat: PrintMaterial,
) -> str:
    x, y, z = geo.bbox_mm
    size = f"model ({x:.1f} × {y:.1f} × {z:.1f} mm)"
    others = [
        m
        for m in machines
        if m.process is not mat.process
        and any(fits(o.extents_mm, m.build_volume_mm) for o in geo.orientations)
    ]
    if others:
        names = ", ".join(f"{m.id} ({m.process.value}, {m.volume_label})" for m in others)
        return (
            f"{size} fits no {mat.process.value} printer (largest: {_largest(own).id}, "
            f"{_largest(own).volume_label}) in any pose; it would fit {names}: choose a "
            "material for that process, or split the model"
        )
    big = _largest(machines)
    return (
        f"quote refused: {size} fits no machine in any of {len(geo.orientations)} poses; the "
        f"largest build volume is {big.volume_label} ({big.id}); scale or split the model"
    )
