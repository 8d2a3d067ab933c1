"""Print time and material of one part, per process.

FDM. The shell is what the slicer lays down as perimeters (walls) and solid skins (top and
bottom): a triangle with area A whose normal makes angle θ with the build axis gets a shell
of thickness max(P·sin θ, S·cos θ) behind it, where P = perimeters × extrusion spacing and
S = skin layers × layer height (top or bottom by the normal's sign). The interior (volume
minus shell) is filled at the infill density. Time is each feature's extrusion volume at
its volumetric rate (speed × width × layer height, capped by the material's flow), scaled by
calibrated motion factors, plus a per-layer overhead (layer change, travel, retraction) and
a per-part overhead.

Resin (masked SLA). Every layer costs its exposure plus the peel, whatever the layer holds,
so time follows layers; the material is the solid volume plus a sparse support volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from microfactory.quoting.geometry import SurfaceProfile, layer_count, layer_profile
from microfactory.quoting.processes import FdmSettings, ResinSettings


@dataclass(frozen=True)
class PartEstimate:
    """One part in its chosen pose."""

    print_s: float
    layers: int
    model_volume_mm3: float
    """Extruded/cured volume of the part itself (shells + infill, or solid)."""
    support_material_mm3: float
    wall_mm3: float = 0.0
    skin_mm3: float = 0.0
    infill_mm3: float = 0.0

    @property
    def material_mm3(self) -> float:
        return self.model_volume_mm3 + self.support_material_mm3

    def mass_g(self, density_g_cm3: float) -> float:
        return self.material_mm3 * density_g_cm3 / 1000.0


@dataclass(frozen=True)
class FdmFeatures:
    """The model's extrusion volumes and the nominal seconds each takes (before calibration);
    the calibration script fits the factors on these."""

    wall_mm3: float
    skin_mm3: float
    infill_mm3: float
    support_mm3: float
    layers: int
    wall_s: float
    skin_s: float
    infill_s: float
    support_s: float
    layer_wall_share: np.ndarray
    """Share of the wall time spent in each layer (sums to 1)."""
    layer_fill_share: np.ndarray
    """Share of the skin + infill time spent in each layer (sums to 1)."""


def fdm_features(
    volume_mm3: float,
    profile: SurfaceProfile,
    height_mm: float,
    support_volume_mm3: float,
    settings: FdmSettings,
    material_flow_mm3_s: float | None = None,
) -> FdmFeatures:
    s = settings
    h = s.layer_height_mm
    w = s.extrusion_width_mm
    spacing = w - h * (1.0 - math.pi / 4.0)
    wall_t = s.perimeters * spacing
    nz = profile.abs_nz
    sin_t = np.sqrt(np.clip(1.0 - nz * nz, 0.0, 1.0))
    skin_layers = 0.5 * (s.top_layers + s.bottom_layers)
    wall_part = wall_t * sin_t
    skin_part = skin_layers * h * nz
    # walls and skins overlap on slopes: the shell is their root-sum-square, split pro rata
    both = np.hypot(wall_part, skin_part)
    total = wall_part + skin_part
    share = np.divide(both, total, out=np.zeros_like(both), where=total > 0)
    wall = float(np.dot(profile.areas, wall_part * share))
    skin = float(np.dot(profile.areas, skin_part * share))
    shell = wall + skin
    if shell > volume_mm3:  # thin part: all solid
        wall *= volume_mm3 / shell
        skin *= volume_mm3 / shell
        shell = volume_mm3
    infill = (volume_mm3 - shell) * s.infill_density
    support = support_volume_mm3 * s.support_density
    cap = min(s.max_flow_mm3_s, material_flow_mm3_s or math.inf)
    layers = layer_count(height_mm, h, s.first_layer_height_mm)
    outline, section = layer_profile(profile, h, layers)

    def seconds(vol: float, speed: float) -> float:
        return vol / min(speed * w * h, cap)

    return FdmFeatures(
        wall_mm3=wall,
        skin_mm3=skin,
        infill_mm3=infill,
        support_mm3=support,
        layers=layers,
        wall_s=seconds(wall, s.perimeter_speed_mm_s),
        skin_s=seconds(skin, s.solid_infill_speed_mm_s),
        infill_s=seconds(infill, s.infill_speed_mm_s),
        support_s=seconds(support, s.support_speed_mm_s),
        layer_wall_share=_shares(outline),
        layer_fill_share=_shares(section),
    )


def _shares(values: np.ndarray) -> np.ndarray:
    total = float(values.sum())
    if total <= 0:
        return np.full(len(values), 1.0 / max(len(values), 1))
    return np.asarray(values / total)


def slowdown_s(features: FdmFeatures, settings: FdmSettings) -> float:
    """Seconds the printer adds by slowing layers that would finish faster than the minimum
    layer time (cooling), from the per-layer spread of the calibrated feature times."""
    s = settings
    f = features
    walls = s.wall_time_factor * f.wall_s
    fill = s.solid_time_factor * f.skin_s + s.infill_time_factor * (f.infill_s + f.support_s)
    moving = walls * f.layer_wall_share + fill * f.layer_fill_share
    wanted = np.clip(s.min_layer_time_s - moving - s.layer_overhead_s, 0.0, None)
    # the printer will not go below its minimum speed, which bounds the slowdown
    most = moving * max(s.perimeter_speed_mm_s / s.min_print_speed_mm_s - 1.0, 0.0)
    return float(np.minimum(wanted, most).sum())


def fdm_estimate(features: FdmFeatures, settings: FdmSettings) -> PartEstimate:
    s = settings
    f = features
    print_s = (
        s.wall_time_factor * f.wall_s
        + s.solid_time_factor * f.skin_s
        + s.infill_time_factor * f.infill_s
        + s.infill_time_factor * f.support_s
        + s.layer_overhead_s * f.layers
        + s.part_overhead_s
        + slowdown_s(f, s)
    )
    model = (f.wall_mm3 + f.skin_mm3 + f.infill_mm3) * s.mass_factor
    return PartEstimate(
        print_s=print_s,
        layers=f.layers,
        model_volume_mm3=model,
        support_material_mm3=f.support_mm3 * s.mass_factor,
        wall_mm3=f.wall_mm3,
        skin_mm3=f.skin_mm3,
        infill_mm3=f.infill_mm3,
    )


def resin_exposures(layers: int, settings: ResinSettings) -> np.ndarray:
    """Exposure of each layer: the first long, then a linear fade, then normal."""
    s = settings
    exp = np.full(layers, s.exposure_s)
    exp[0] = s.first_exposure_s
    fade = min(s.fade_layers, layers - 1)
    if fade > 0:
        k = np.arange(1, fade + 1)
        exp[1 : fade + 1] = s.first_exposure_s - (s.first_exposure_s - s.exposure_s) * k / (
            fade + 1
        )
    return exp


def resin_plate_seconds(
    height_mm: float,
    settings: ResinSettings,
    section_mm2: np.ndarray | None = None,
    display_mm2: float | None = None,
) -> tuple[float, int]:
    """Seconds to print one plate whose tallest part is `height_mm`, and its layer count.
    `section_mm2` (cured area per layer, all parts of the plate) and the display area decide
    which layers tilt slowly; without them every tilt is fast."""
    s = settings
    layers = max(1, math.ceil(height_mm / s.layer_height_mm - 1e-9))
    tilts = np.full(layers, s.fast_tilt_s)
    if section_mm2 is not None and display_mm2:
        slow = np.zeros(layers, dtype=bool)
        n = min(layers, len(section_mm2))
        slow[:n] = section_mm2[:n] > s.slow_tilt_share * display_mm2
        tilts[slow] = s.slow_tilt_s
    seconds = float(resin_exposures(layers, s).sum() + tilts.sum()) + layers * s.layer_overhead_s
    return seconds, layers


def resin_estimate(
    volume_mm3: float,
    height_mm: float,
    support_volume_mm3: float,
    settings: ResinSettings,
    section_mm2: np.ndarray | None = None,
    display_mm2: float | None = None,
) -> PartEstimate:
    seconds, layers = resin_plate_seconds(height_mm, settings, section_mm2, display_mm2)
    return PartEstimate(
        print_s=seconds,
        layers=layers,
        model_volume_mm3=volume_mm3,
        support_material_mm3=support_volume_mm3 * settings.support_density,
    )
