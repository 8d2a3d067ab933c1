"""The print farm's slicer against the quote, on the 19 quoting calibration models.

    python benchmarks/printfarm/slicer_vs_quote.py [--markdown]

Each model (the 12 generated shapes and the 7 Debian PrusaSlicer test shapes of
benchmarks/quoting/calibrate.py) is quoted the way a customer's upload is (intake, pose,
machine, time, mass: `services.quoting.quote_file` on examples/print-farm.yaml, PLA, one part)
and sliced the way the print farm slices an accepted quote (the quote's pose, the shipped
profile `fdm-250x210-0.4mm-0.20mm`, the material's density: `SlicingService`'s `posed_stl` and
the `PrusaSlicer` adapter). Prints one JSON object per model (quote vs slicer time and grams,
their relative difference `quote / slicer - 1`, the slicing time) and a summary line.

The difference from benchmarks/quoting/calibrate.py: there the quoting model is compared with
PrusaSlicer on an identical configuration generated from `FdmSettings` and the "as modelled"
pose; here it is what the shop will see between a quote and the job it prints (the pose the
quote chose, the shipped profile with its start G-code and retraction).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "quoting"))

from calibrate import DEBIAN_SHAPES, SHAPES_DIR, generated_shapes  # noqa: E402

from microfactory.connect.prusa_slicer import PrusaSlicer  # noqa: E402
from microfactory.core.clock import SystemClock  # noqa: E402
from microfactory.orders.factory_file import load_factory  # noqa: E402
from microfactory.services.printfarm_slicing import posed_stl  # noqa: E402
from microfactory.services.quoting import quote_file  # noqa: E402
from microfactory.shopfloor.printers import profile_path  # noqa: E402

PROFILE = "fdm-250x210-0.4mm-0.20mm"
MATERIAL = "pla-black"


def models(work: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, mesh in generated_shapes().items():
        out[name] = work / f"{name}.stl"
        mesh.export(out[name])
    for name in DEBIAN_SHAPES:
        path = SHAPES_DIR / f"{name}.stl"
        if path.is_file():
            out[f"debian_{name}"] = path
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    slicer = PrusaSlicer()
    if not slicer.available():
        print(json.dumps({"error": "prusa-slicer not found; apt-get install -y prusa-slicer"}))
        return 1
    factory = load_factory(ROOT / "examples" / "print-farm.yaml")
    density = factory.material_map[MATERIAL].density_g_cm3
    clock = SystemClock()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mf-farm-bench-") as tmp:
        work = Path(tmp)
        for name, path in models(work).items():
            started = time.perf_counter()
            quote = quote_file(
                factory, path, material=MATERIAL, quantity=1, clock=clock, units="mm"
            )
            quote_s = time.perf_counter() - started
            q = quote.quote
            stl = posed_stl(path.read_bytes(), path.name, q.orientation)
            overrides = {"filament_density": f"{density:g}"}
            if q.support_volume_mm3 > 0:  # as the print farm does: the quote's supports
                overrides["support_material"] = "1"
            result = slicer.slice(
                stl, path.name, profile_path(PROFILE), work / f"{name}.gcode", overrides=overrides
            )
            quote_time = q.print_hours_per_part * 3600
            rows.append(
                {
                    "model": name,
                    "pose": q.orientation,
                    "supports": q.support_volume_mm3 > 0,
                    "slicer_s": round(result.print_time_s, 1),
                    "quote_s": round(quote_time, 1),
                    "time_diff": round(quote_time / result.print_time_s - 1, 4),
                    "slicer_g": round(result.filament_g, 3),
                    "quote_g": round(q.mass_g, 3),
                    "mass_diff": round(q.mass_g / result.filament_g - 1, 4),
                    "slicing_s": round(result.seconds, 2),
                    "quoting_s": round(quote_s, 3),
                }
            )
    if args.markdown:
        print(
            "| model | pose | supports | slicer time | quote | diff | slicer g | quote g | diff "
            "| slicing s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['model']} | {r['pose']} | {'yes' if r['supports'] else 'no'} | "
                f"{r['slicer_s'] / 60:.1f} min | "
                f"{r['quote_s'] / 60:.1f} min | {r['time_diff']:+.1%} | {r['slicer_g']:.2f} | "
                f"{r['quote_g']:.2f} | {r['mass_diff']:+.1%} | {r['slicing_s']:.2f} |"
            )
    else:
        for r in rows:
            print(json.dumps(r))
    td = [abs(r["time_diff"]) for r in rows]
    md = [abs(r["mass_diff"]) for r in rows]
    summary = {
        "models": len(rows),
        "time_abs_diff_mean": round(statistics.mean(td), 4),
        "time_abs_diff_max": round(max(td), 4),
        "time_within_15pct": sum(d <= 0.15 for d in td),
        "mass_abs_diff_mean": round(statistics.mean(md), 4),
        "mass_abs_diff_max": round(max(md), 4),
        "mass_within_15pct": sum(d <= 0.15 for d in md),
        "slicing_s_total": round(sum(r["slicing_s"] for r in rows), 2),
        "quoting_s_total": round(sum(r["quoting_s"] for r in rows), 3),
    }
    print(json.dumps(summary), file=sys.stderr if args.markdown else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
