"""Calibrate the FDM print-time and mass model against PrusaSlicer and report per-model error.

    python benchmarks/quoting/calibrate.py [--fit] [--out DIR] [--prusa prusa-slicer]

Slices a set of generated shapes and the public test shapes Debian's `prusa-slicer` package
ships (/usr/share/PrusaSlicer/shapes) with a PrusaSlicer configuration generated from the
same `FdmSettings` our model uses, parses `; estimated printing time (normal mode)` and
`; total filament used [g]` from the G-code, and compares. With `--fit`, fits the model's
calibration factors by non-negative least squares on relative error and prints them, with
leave-one-out errors so the fit is not judged on its own training points alone. Prints one
JSON object per model and a summary line; `--markdown` prints the RESULTS.md table instead.
Supports are off in both (they are estimated separately in quotes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from scipy.optimize import nnls

from microfactory.quoting.geometry import analyze, surface_profile
from microfactory.quoting.intake import load_model
from microfactory.quoting.print_model import FdmFeatures, fdm_estimate, fdm_features, slowdown_s
from microfactory.quoting.processes import FdmSettings

DENSITY = 1.24  # PLA, g/cm³
SHAPES_DIR = Path("/usr/share/PrusaSlicer/shapes")
DEBIAN_SHAPES = ("bunny", "M3_hex_nut", "M3x10_screw", "torus", "cone", "pyramid", "sphere")


def prism(outline: list[tuple[float, float]], height: float) -> trimesh.Trimesh:
    """Extrude a polygon that is star-shaped about its vertex mean (fan-triangulated caps)."""
    pts = np.asarray(outline, dtype=float)
    n = len(pts)
    c = pts.mean(axis=0)
    verts = np.vstack([np.c_[pts, np.zeros(n)], np.c_[pts, np.full(n, height)]])
    verts = np.vstack([verts, [c[0], c[1], 0.0], [c[0], c[1], height]])
    cb, ct = 2 * n, 2 * n + 1
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [[i, j, n + j], [i, n + j, n + i], [cb, j, i], [ct, n + i, n + j]]
    mesh = trimesh.Trimesh(verts, np.asarray(faces), process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def hollow_box(outer: tuple[float, float, float], wall: float) -> trimesh.Trimesh:
    a = trimesh.creation.box(outer)
    inner = trimesh.creation.box(tuple(x - 2 * wall for x in outer))
    inner.invert()
    return trimesh.util.concatenate([a, inner])


def generated_shapes() -> dict[str, trimesh.Trimesh]:
    t_shape = [(-30, 0), (30, 0), (30, 8), (5, 8), (5, 40), (-5, 40), (-5, 8), (-30, 8)]
    l_shape = [(0, 0), (50, 0), (50, 6), (6, 6), (6, 40), (0, 40)]
    overhang = prism(t_shape, 20.0)
    overhang.apply_transform(trimesh.transformations.rotation_matrix(math.pi, [1, 0, 0]))
    return {
        "cube_20": trimesh.creation.box((20, 20, 20)),
        "cube_50": trimesh.creation.box((50, 50, 50)),
        "cylinder_d30_h40": trimesh.creation.cylinder(radius=15, height=40, sections=96),
        "sphere_r20": trimesh.creation.icosphere(subdivisions=4, radius=20),
        "torus_r25_r6": trimesh.creation.torus(major_radius=25, minor_radius=6),
        "hollow_box_60x40x30": hollow_box((60, 40, 30), 3.0),
        "thin_plate_80x60x2": trimesh.creation.box((80, 60, 2)),
        "tube_d40_w3_h50": trimesh.creation.annulus(r_min=17, r_max=20, height=50, sections=96),
        "overhang_T_upside_down": overhang,
        "l_bracket_h25": prism(l_shape, 25.0),
        "tall_bar_10x10x80": trimesh.creation.box((10, 10, 80)),
        "cone_d40_h40": trimesh.creation.cone(radius=20, height=40, sections=96),
    }


def prusa_config(s: FdmSettings) -> str:
    w = s.extrusion_width_mm
    cfg = {
        "layer_height": s.layer_height_mm,
        "first_layer_height": s.first_layer_height_mm,
        "perimeters": s.perimeters,
        "top_solid_layers": s.top_layers,
        "bottom_solid_layers": s.bottom_layers,
        "top_solid_min_thickness": 0,
        "bottom_solid_min_thickness": 0,
        "fill_density": f"{s.infill_density * 100:g}%",
        "fill_pattern": "rectilinear",
        "extrusion_width": w,
        "perimeter_extrusion_width": w,
        "external_perimeter_extrusion_width": w,
        "infill_extrusion_width": w,
        "solid_infill_extrusion_width": w,
        "top_infill_extrusion_width": w,
        "first_layer_extrusion_width": w,
        "perimeter_speed": s.perimeter_speed_mm_s,
        "external_perimeter_speed": s.perimeter_speed_mm_s,
        "small_perimeter_speed": s.perimeter_speed_mm_s,
        "infill_speed": s.infill_speed_mm_s,
        "solid_infill_speed": s.solid_infill_speed_mm_s,
        "top_solid_infill_speed": s.solid_infill_speed_mm_s,
        "gap_fill_speed": s.solid_infill_speed_mm_s,
        "bridge_speed": s.solid_infill_speed_mm_s,
        "first_layer_speed": s.solid_infill_speed_mm_s,
        "support_material_speed": s.support_speed_mm_s,
        "travel_speed": s.travel_speed_mm_s,
        "max_volumetric_speed": s.max_flow_mm3_s,
        "solid_infill_below_area": 5,
        "slowdown_below_layer_time": s.min_layer_time_s,
        "cooling": 1,
        "min_print_speed": s.min_print_speed_mm_s,
        "skirts": 0,
        "brim_width": 0,
        "support_material": 0,
        "gcode_flavor": "marlin2",
        "machine_limits_usage": "time_estimate_only",
        "machine_max_acceleration_extruding": s.acceleration_mm_s2,
        "machine_max_acceleration_x": s.acceleration_mm_s2,
        "machine_max_acceleration_y": s.acceleration_mm_s2,
        "machine_max_acceleration_travel": s.acceleration_mm_s2,
        "machine_max_feedrate_x": 200,
        "machine_max_feedrate_y": 200,
        "filament_density": DENSITY,
        "filament_diameter": 1.75,
        "nozzle_diameter": 0.4,
        "bed_shape": "0x0,250x0,250x210,0x210",
        "max_print_height": 210,
    }
    return "".join(f"{k} = {v}\n" for k, v in cfg.items())


_TIME = re.compile(r"^; estimated printing time \(normal mode\) = (.+)$", re.M)
_MASS = re.compile(r"^; (?:total )?filament used \[g\] = ([0-9.]+)$", re.M)


def parse_duration(text: str) -> float:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([dhms])", text)))


def slice_with_prusa(
    prusa: str, model: Path, config: Path, out: Path
) -> tuple[float, float, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            prusa,
            "--export-gcode",
            "--load",
            str(config),
            "--center",
            "125,105",
            "-o",
            str(out),
            str(model),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"prusa-slicer failed on {model.name}: {proc.stderr[-400:]}")
    gcode = out.read_text(errors="replace")
    t, m = _TIME.search(gcode), _MASS.search(gcode)
    if not t or not m:
        raise RuntimeError(f"no estimate in G-code for {model.name}")
    return parse_duration(t.group(1)), float(m.group(1)), seconds


def our_features(path: Path, s: FdmSettings) -> tuple[FdmFeatures, float]:
    loaded = load_model(path, units="mm")
    geo = analyze(loaded.mesh)
    pose = next(o for o in geo.orientations if o.label == "as modelled")
    prof = surface_profile(loaded.mesh, pose)
    return fdm_features(geo.volume_mm3, prof, pose.height_mm, 0.0, s), prof.footprint_mm2


def design(f: FdmFeatures) -> list[float]:
    """Columns of the time model: wall, skin, infill seconds, layers, one per part."""
    return [f.wall_s, f.skin_s, f.infill_s, float(f.layers), 1.0]


def fit(rows: list[dict[str, float]], feats: list[FdmFeatures]) -> tuple[np.ndarray, float]:
    a = np.array([design(f) for f in feats])
    y = np.array([r["prusa_s"] for r in rows])
    wts = 1.0 / y  # minimise relative error
    extra = np.zeros(len(y))
    for _ in range(4):  # the cooling slowdown is not linear: refit with it held fixed
        coef, _ = nnls(a * wts[:, None], (y - extra) * wts)
        trial = with_coef(FdmSettings(), coef, 1.0)
        extra = np.array([slowdown_s(f, trial) for f in feats])
    mass_ours = np.array([(f.wall_mm3 + f.skin_mm3 + f.infill_mm3) * DENSITY / 1000 for f in feats])
    mass_ref = np.array([r["prusa_g"] for r in rows])
    mass_factor = float(
        np.sum(mass_ours * mass_ref / mass_ref**2) / np.sum(mass_ours**2 / mass_ref**2)
    )
    return coef, mass_factor


def with_coef(s: FdmSettings, coef: np.ndarray, mass_factor: float) -> FdmSettings:
    return dataclasses.replace(
        s,
        wall_time_factor=round(float(coef[0]), 3),
        solid_time_factor=round(float(coef[1]), 3),
        infill_time_factor=round(float(coef[2]), 3),
        layer_overhead_s=round(float(coef[3]), 3),
        part_overhead_s=round(float(coef[4]), 2),
        mass_factor=round(mass_factor, 3),
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--prusa", default="prusa-slicer")
    args = ap.parse_args()
    prusa = shutil.which(args.prusa)
    if prusa is None:
        print(json.dumps({"error": "prusa-slicer not found; apt-get install -y prusa-slicer"}))
        return 1
    settings = FdmSettings()
    work = args.out or Path(tempfile.mkdtemp(prefix="mf-calib-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.ini"
    config.write_text(prusa_config(settings))
    models: dict[str, Path] = {}
    for name, mesh in generated_shapes().items():
        assert mesh.is_watertight, name
        models[name] = work / f"{name}.stl"
        mesh.export(models[name])
    for name in DEBIAN_SHAPES:
        if (SHAPES_DIR / f"{name}.stl").is_file():
            models[f"debian_{name}"] = SHAPES_DIR / f"{name}.stl"
    rows: list[dict[str, float]] = []
    feats: list[FdmFeatures] = []
    for name, path in models.items():
        prusa_s, prusa_g, prusa_run = slice_with_prusa(prusa, path, config, work / f"{name}.gcode")
        start = time.perf_counter()
        f, _ = our_features(path, settings)
        est = fdm_estimate(f, settings)
        ours_run = time.perf_counter() - start
        feats.append(f)
        rows.append(
            {
                "model": name,
                "prusa_s": prusa_s,
                "prusa_g": prusa_g,  # type: ignore[dict-item]
                "ours_s": est.print_s,
                "ours_g": est.mass_g(DENSITY),
                "prusa_run_s": prusa_run,
                "ours_run_s": ours_run,
            }
        )
    if args.fit:
        coef, mass_factor = fit(rows, feats)
        settings = with_coef(settings, coef, mass_factor)
        print(
            json.dumps(
                {
                    "fitted": {
                        k: getattr(settings, k)
                        for k in (
                            "wall_time_factor",
                            "solid_time_factor",
                            "infill_time_factor",
                            "layer_overhead_s",
                            "part_overhead_s",
                            "mass_factor",
                        )
                    }
                }
            )
        )
        for i, row in enumerate(rows):
            others = [j for j in range(len(rows)) if j != i]
            c, mf = fit([rows[j] for j in others], [feats[j] for j in others])
            loo = fdm_estimate(feats[i], with_coef(settings, c, mf))
            row["loo_time_err"] = loo.print_s / row["prusa_s"] - 1
            row["loo_mass_err"] = loo.mass_g(DENSITY) / row["prusa_g"] - 1
    for row, f in zip(rows, feats, strict=True):
        est = fdm_estimate(f, settings)
        row["ours_s"] = est.print_s
        row["ours_g"] = est.mass_g(DENSITY)
        row["time_err"] = row["ours_s"] / row["prusa_s"] - 1
        row["mass_err"] = row["ours_g"] / row["prusa_g"] - 1
    if args.markdown:
        print_markdown(rows)
    else:
        for row in rows:
            print(
                json.dumps(
                    {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                )
            )
    te = [abs(r["time_err"]) for r in rows]
    me = [abs(r["mass_err"]) for r in rows]
    print(
        json.dumps(
            {
                "models": len(rows),
                "time_abs_err_max": round(max(te), 4),
                "time_abs_err_mean": round(float(np.mean(te)), 4),
                "mass_abs_err_max": round(max(me), 4),
                "mass_abs_err_mean": round(float(np.mean(me)), 4),
                "within_15pct_time": sum(e <= 0.15 for e in te),
                "within_15pct_mass": sum(e <= 0.15 for e in me),
                "prusa_run_s_total": round(sum(r["prusa_run_s"] for r in rows), 2),
                "ours_run_s_total": round(sum(r["ours_run_s"] for r in rows), 2),
            }
        ),
        file=sys.stderr if args.markdown else sys.stdout,
    )
    return 0


def print_markdown(rows: list[dict[str, float]]) -> None:
    print(
        "| model | PrusaSlicer time | ours | err | LOO err | PrusaSlicer g | ours g | err | "
        "LOO err | PrusaSlicer run s | ours run s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['prusa_s'] / 60:.1f} min | {r['ours_s'] / 60:.1f} min | "
            f"{r['time_err']:+.1%} | {r.get('loo_time_err', float('nan')):+.1%} | "
            f"{r['prusa_g']:.2f} | {r['ours_g']:.2f} | {r['mass_err']:+.1%} | "
            f"{r.get('loo_mass_err', float('nan')):+.1%} | {r['prusa_run_s']:.2f} | "
            f"{r['ours_run_s']:.3f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
