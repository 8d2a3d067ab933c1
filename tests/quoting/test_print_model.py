"""Print time and mass: hand-computed shells and PrusaSlicer 2.5.0 reference estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from microfactory.quoting.geometry import analyze, surface_profile
from microfactory.quoting.print_model import (
    fdm_estimate,
    fdm_features,
    resin_estimate,
    resin_plate_seconds,
    slowdown_s,
)
from microfactory.quoting.processes import FdmSettings, ResinSettings


def _features(mesh: trimesh.Trimesh, settings: FdmSettings):  # type: ignore[no-untyped-def]
    geo = analyze(mesh)
    pose = next(o for o in geo.orientations if o.label == "as modelled")
    return fdm_features(geo.volume_mm3, surface_profile(mesh, pose), pose.height_mm, 0.0, settings)


def test_cube_shell_and_infill_by_hand() -> None:
    s = FdmSettings()
    f = _features(trimesh.creation.box((20, 20, 20)), s)
    spacing = s.extrusion_width_mm - s.layer_height_mm * (1 - math.pi / 4)
    walls = 4 * 20 * 20 * s.perimeters * spacing
    skins = 2 * 20 * 20 * (s.top_layers + s.bottom_layers) / 2 * s.layer_height_mm
    assert f.wall_mm3 == pytest.approx(walls)
    assert f.skin_mm3 == pytest.approx(skins)
    assert f.infill_mm3 == pytest.approx((8000 - walls - skins) * s.infill_density)
    assert f.layers == 100


def test_thin_part_is_solid_not_more_than_solid() -> None:
    f = _features(trimesh.creation.box((40, 40, 0.6)), FdmSettings())
    assert f.wall_mm3 + f.skin_mm3 == pytest.approx(40 * 40 * 0.6)
    assert f.infill_mm3 == 0.0


def test_feature_seconds_are_volume_over_flow() -> None:
    s = FdmSettings()
    f = _features(trimesh.creation.box((30, 30, 30)), s)
    rate = s.perimeter_speed_mm_s * s.extrusion_width_mm * s.layer_height_mm
    assert f.wall_s == pytest.approx(f.wall_mm3 / rate)


def test_material_flow_caps_the_rate() -> None:
    s = FdmSettings()
    mesh = trimesh.creation.box((30, 30, 30))
    geo = analyze(mesh)
    pose = geo.orientations[0]
    prof = surface_profile(mesh, pose)
    free = fdm_features(geo.volume_mm3, prof, pose.height_mm, 0.0, s, None)
    capped = fdm_features(geo.volume_mm3, prof, pose.height_mm, 0.0, s, 1.0)
    assert capped.infill_s == pytest.approx(free.infill_mm3 / 1.0)
    assert capped.infill_s > free.infill_s


def test_slowdown_only_for_layers_under_the_minimum_time() -> None:
    s = FdmSettings()
    big = _features(trimesh.creation.box((50, 50, 10)), s)
    tiny = _features(trimesh.creation.box((4, 4, 10)), s)
    assert slowdown_s(big, s) == 0.0
    assert slowdown_s(tiny, s) > 0.0


# PrusaSlicer 2.5.0 (Debian bookworm) estimates for these shapes with the configuration
# `benchmarks/quoting/calibrate.py` writes from FdmSettings() (see RESULTS.md).
PRUSA = [
    ("cube 20", trimesh.creation.box((20, 20, 20)), 949.0, 3.61),
    (
        "cylinder d30 h40",
        trimesh.creation.cylinder(radius=15, height=40, sections=96),
        2395.0,
        10.12,
    ),
    ("thin plate 80x60x2", trimesh.creation.box((80, 60, 2)), 2261.0, 9.54),
    ("sphere r20", trimesh.creation.icosphere(subdivisions=4, radius=20), 2832.0, 11.28),
    ("bar 10x10x80", trimesh.creation.box((10, 10, 80)), 2216.0, 4.70),
]


@pytest.mark.parametrize(("name", "mesh", "seconds", "grams"), PRUSA, ids=[p[0] for p in PRUSA])
def test_fdm_estimate_within_15_percent_of_prusaslicer(
    name: str, mesh: trimesh.Trimesh, seconds: float, grams: float
) -> None:
    s = FdmSettings()
    est = fdm_estimate(_features(mesh, s), s)
    assert est.print_s == pytest.approx(seconds, rel=0.15)
    assert est.mass_g(1.24) == pytest.approx(grams, rel=0.15)


def test_resin_time_is_exposures_plus_tilts() -> None:
    r = ResinSettings(fade_layers=3, layer_overhead_s=0.5)
    seconds, layers = resin_plate_seconds(10.0, r)
    assert layers == 200
    # first 30 s, fade 23.125 / 16.25 / 9.375 s, then 196 × 2.5 s; 200 fast tilts of 5 s
    exposures = 30 + 23.125 + 16.25 + 9.375 + 196 * 2.5
    assert seconds == pytest.approx(exposures + 200 * 5 + 200 * 0.5)


def test_resin_big_layers_tilt_slowly() -> None:
    r = ResinSettings()
    section = np.array([60.0] * 100 + [40.0] * 100)
    fast, _ = resin_plate_seconds(10.0, r, section * 0.0, 100.0)
    mixed, _ = resin_plate_seconds(10.0, r, section, 100.0)
    assert mixed - fast == pytest.approx(100 * (r.slow_tilt_s - r.fast_tilt_s))


def test_resin_mass_is_solid_plus_sparse_support() -> None:
    r = ResinSettings()
    est = resin_estimate(1000.0, 10.0, 400.0, r)
    assert est.mass_g(1.1) == pytest.approx((1000 + 400 * r.support_density) * 1.1 / 1000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layer_height_mm": 0.0},  # no layer
        {"layer_height_mm": 0.6},  # thicker than the extrusion is wide
        {"perimeters": 0},  # no wall
        {"infill_density": 1.5},  # over 100 %
        {"infill_speed_mm_s": -1.0},  # negative speed
    ],
)
def test_bad_fdm_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FdmSettings(**kwargs)  # type: ignore[arg-type]
