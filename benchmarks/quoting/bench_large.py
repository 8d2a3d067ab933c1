"""Geometry + price of a 1,000,000-triangle STL (goal: <= 2 s), with PrusaSlicer's slicing
time on the same file in the same run for scale.

    python benchmarks/quoting/bench_large.py [--triangles 1000000] [--no-prusa] [--repeat 3]

Prints one JSON object. The STL is a torus (binary, 50 bytes per triangle) written to a
temporary folder; the timed path is what `microfactory quote` runs: read + validate the file,
geometry and pose search, FDM time/mass model, pricing, on the demo factory's printers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import trimesh

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.orders.factory_file import load_factory
from microfactory.quoting.engine import quote_model
from microfactory.quoting.factory_inputs import printing_inputs
from microfactory.quoting.intake import load_model


def make_model(path: Path, triangles: int) -> int:
    minor = 500
    major = max(3, math.ceil(triangles / (2 * minor)))
    mesh = trimesh.creation.torus(
        major_radius=40, minor_radius=12, major_sections=major, minor_sections=minor
    )
    mesh.export(path)
    return len(mesh.faces)


def time_quote(path: Path) -> tuple[float, dict[str, float]]:
    inputs = printing_inputs(load_factory(DEMO_FACTORY))
    cpu = time.process_time()
    start = time.perf_counter()
    loaded = load_model(path, units="mm")
    t_load = time.perf_counter()
    q = quote_model(
        loaded,
        material="pla-black",
        quantity=10,
        machines=inputs.machines,
        materials=inputs.materials,
    )
    end = time.perf_counter()
    return end - start, {
        "cpu_s": round(time.process_time() - cpu, 3),
        "read_validate_s": round(t_load - start, 3),
        "geometry_price_s": round(end - t_load, 3),
        "volume_mm3": round(q.volume_mm3, 1),
        "price": q.price.total,
        "machine_hours": round(q.machine_hours, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--triangles", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-prusa", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mf-bench-"))
    path = work / "torus_1m.stl"
    faces = make_model(path, args.triangles)
    runs = [time_quote(path) for _ in range(args.repeat)]
    best = min(r[0] for r in runs)
    row: dict[str, object] = {
        "benchmark": "quote_large_stl",
        "triangles": faces,
        "file_bytes": path.stat().st_size,
        "seconds_best": round(best, 3),
        "seconds_all": [round(r[0], 3) for r in runs],
        "goal_s": 2.0,
        "pass": best <= 2.0,
        **runs[0][1],
        "cpu_s_best": min(r[1]["cpu_s"] for r in runs),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "date": datetime.now(UTC).date().isoformat(),
    }
    prusa = shutil.which("prusa-slicer")
    if prusa and not args.no_prusa:
        start = time.perf_counter()
        proc = subprocess.run(
            [prusa, "--export-gcode", "-o", str(work / "out.gcode"), str(path)],
            capture_output=True,
            timeout=900,
            check=False,
        )
        row["prusa_slicer_s"] = round(time.perf_counter() - start, 2)
        row["prusa_slicer_rc"] = proc.returncode
        row["prusa_over_ours"] = round(float(row["prusa_slicer_s"]) / best, 1)  # type: ignore[arg-type]
    print(json.dumps(row))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
