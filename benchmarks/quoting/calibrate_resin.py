"""Compare the resin (masked SLA) print-time model with PrusaSlicer's SL1 estimate.

    python benchmarks/quoting/calibrate_resin.py [--fit] [--markdown] [--out DIR]

Slices the models with PrusaSlicer's SLA pipeline using a configuration generated from
`ResinSettings` (display = the demo resin printer's 218 × 123 mm), supports and pad off, and
reads `printTime` and `usedMaterial` (ml) from the SL1 archive's config.ini. With `--fit`,
fits the one free constant (`layer_overhead_s`, seconds per layer beyond exposure and tilt)
by least squares on relative error, and reports leave-one-out errors too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import trimesh

from microfactory.quoting.geometry import analyze, layer_profile, surface_profile
from microfactory.quoting.intake import load_model
from microfactory.quoting.print_model import resin_plate_seconds
from microfactory.quoting.processes import ResinSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import SHAPES_DIR, hollow_box

DISPLAY = (218.0, 123.0)


def models() -> dict[str, trimesh.Trimesh | Path]:
    out: dict[str, trimesh.Trimesh | Path] = {
        "cube_20": trimesh.creation.box((20, 20, 20)),
        "cylinder_d30_h40": trimesh.creation.cylinder(radius=15, height=40, sections=96),
        "sphere_r20": trimesh.creation.icosphere(subdivisions=4, radius=20),
        "torus_r25_r6": trimesh.creation.torus(major_radius=25, minor_radius=6),
        "hollow_box_60x40x30": hollow_box((60, 40, 30), 3.0),
        "thin_plate_80x60x2": trimesh.creation.box((80, 60, 2)),
        "wide_plate_200x100x3": trimesh.creation.box((200, 100, 3)),
        "tube_d40_w3_h50": trimesh.creation.annulus(r_min=17, r_max=20, height=50, sections=96),
        "cone_d40_h40": trimesh.creation.cone(radius=20, height=40, sections=96),
        "tall_bar_10x10x80": trimesh.creation.box((10, 10, 80)),
    }
    for name in ("pyramid", "M3_hex_nut", "bunny"):
        if (SHAPES_DIR / f"{name}.stl").is_file():
            out[f"debian_{name}"] = SHAPES_DIR / f"{name}.stl"
    return out


def prusa_config(r: ResinSettings) -> str:
    cfg = {
        "printer_technology": "SLA",
        "layer_height": r.layer_height_mm,
        "initial_layer_height": r.layer_height_mm,
        "exposure_time": r.exposure_s,
        "initial_exposure_time": r.first_exposure_s,
        "faded_layers": max(r.fade_layers, 3),
        "fast_tilt_time": r.fast_tilt_s,
        "slow_tilt_time": r.slow_tilt_s,
        "area_fill": r.slow_tilt_share * 100,
        "display_width": DISPLAY[0],
        "display_height": DISPLAY[1],
        "display_pixels_x": 1090,
        "display_pixels_y": 615,
        "bed_shape": f"0x0,{DISPLAY[0]:g}x0,{DISPLAY[0]:g}x{DISPLAY[1]:g},0x{DISPLAY[1]:g}",
        "max_print_height": 250,
        "supports_enable": 0,
        "pad_enable": 0,
    }
    return "".join(f"{k} = {v}\n" for k, v in cfg.items())


def slice_sla(prusa: str, model: Path, config: Path, out: Path) -> tuple[float, float, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [prusa, "--export-sla", "--load", str(config), "-o", str(out), str(model)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"prusa-slicer failed on {model.name}: {proc.stderr[-400:]}")
    with zipfile.ZipFile(out) as z:
        text = z.read("config.ini").decode()
    values = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return float(values["printTime"]), float(values["usedMaterial"]), seconds


def ours(path: Path, r: ResinSettings) -> tuple[float, float, int]:
    loaded = load_model(path, units="mm")
    geo = analyze(loaded.mesh)
    pose = next(o for o in geo.orientations if o.label == "as modelled")
    layers = max(1, int(np.ceil(pose.height_mm / r.layer_height_mm - 1e-9)))
    _, section = layer_profile(surface_profile(loaded.mesh, pose), r.layer_height_mm, layers)
    seconds, layers = resin_plate_seconds(pose.height_mm, r, section, DISPLAY[0] * DISPLAY[1])
    return seconds, geo.volume_mm3 / 1000.0, layers


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    prusa = shutil.which("prusa-slicer")
    if prusa is None:
        print(json.dumps({"error": "prusa-slicer not found; apt-get install -y prusa-slicer"}))
        return 1
    shipped = ResinSettings()
    base = dataclasses.replace(shipped, layer_overhead_s=0.0)
    work = args.out or Path(tempfile.mkdtemp(prefix="mf-resin-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "sla.ini"
    config.write_text(prusa_config(base))
    rows = []
    for name, item in models().items():
        path = item if isinstance(item, Path) else work / f"{name}.stl"
        if not isinstance(item, Path):
            item.export(path)
        p_s, p_ml, p_run = slice_sla(prusa, path, config, work / f"{name}.sl1")
        t = time.perf_counter()
        o_s, o_ml, layers = ours(path, base)
        rows.append(
            {
                "model": name,
                "layers": layers,
                "prusa_s": p_s,
                "ours0_s": o_s,
                "prusa_ml": p_ml,
                "ours_ml": o_ml,
                "prusa_run_s": p_run,
                "ours_run_s": time.perf_counter() - t,
            }
        )
    overhead = shipped.layer_overhead_s
    if args.fit:
        y = np.array([r["prusa_s"] - r["ours0_s"] for r in rows])
        x = np.array([r["layers"] for r in rows], dtype=float)
        w = 1.0 / np.array([r["prusa_s"] for r in rows]) ** 2
        overhead = max(0.0, float(np.sum(w * x * y) / np.sum(w * x * x)))
        for i, r in enumerate(rows):
            keep = [j for j in range(len(rows)) if j != i]
            loo = max(
                0.0, float(np.sum(w[keep] * x[keep] * y[keep]) / np.sum(w[keep] * x[keep] ** 2))
            )
            r["loo_time_err"] = (r["ours0_s"] + loo * r["layers"]) / r["prusa_s"] - 1
        print(json.dumps({"fitted": {"layer_overhead_s": round(overhead, 3)}}))
    for r in rows:
        r["ours_s"] = r["ours0_s"] + overhead * r["layers"]
        r["time_err"] = r["ours_s"] / r["prusa_s"] - 1
        r["ml_err"] = r["ours_ml"] / r["prusa_ml"] - 1
    if args.markdown:
        print(
            "| model | layers | PrusaSlicer time | ours | err | LOO err | PrusaSlicer ml | ours ml "
            "| err | PrusaSlicer run s | ours run s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['model']} | {r['layers']} | {r['prusa_s'] / 60:.1f} min | "
                f"{r['ours_s'] / 60:.1f} min | {r['time_err']:+.1%} | "
                f"{r.get('loo_time_err', float('nan')):+.1%} | {r['prusa_ml']:.2f} | "
                f"{r['ours_ml']:.2f} | {r['ml_err']:+.1%} | {r['prusa_run_s']:.1f} | "
                f"{r['ours_run_s']:.3f} |"
            )
    else:
        for r in rows:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}))
    te = [abs(r["time_err"]) for r in rows]
    print(
        json.dumps(
            {
                "models": len(rows),
                "time_abs_err_max": round(max(te), 4),
                "time_abs_err_mean": round(float(np.mean(te)), 4),
                "within_15pct_time": sum(e <= 0.15 for e in te),
            }
        ),
        file=sys.stderr if args.markdown else sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
