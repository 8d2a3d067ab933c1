"""The whole `microfactory quote` command, start-up included (goal: <= 1.5 s on a small part,
<= 3 s on a 1,000,000-triangle STL), timed with hyperfine when it is installed, else by
running the command `--runs` times from Python.

    python benchmarks/quoting/bench_cli.py [--runs 10] [--src DIR] [--triangles 1000000]

Prints one JSON object. Each case runs the installed command line as a user types it,
`python -m microfactory quote MODEL --material pla-black` (holding the quote, as by default),
against a fresh SQLite database made with `microfactory init` in a temporary folder. `--src`
puts another source tree first on PYTHONPATH (to time an older commit in the same run,
e.g. one exported with `git archive`). Wall time on a shared machine is inflated by other
jobs; user + system CPU time is given beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trimesh

SRC = Path(__file__).resolve().parents[2] / "src"


def make_models(folder: Path, triangles: int) -> dict[str, tuple[Path, int]]:
    box = trimesh.creation.box(extents=(20, 20, 20))
    box.export(folder / "box.stl")
    minor = 500
    major = max(3, math.ceil(triangles / (2 * minor)))
    torus = trimesh.creation.torus(
        major_radius=40, minor_radius=12, major_sections=major, minor_sections=minor
    )
    torus.export(folder / "large.stl")
    return {
        "small": (folder / "box.stl", len(box.faces)),
        "large": (folder / "large.stl", len(torus.faces)),
    }


def _hyperfine(command: list[str], runs: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    out = cwd / "hyperfine.json"
    subprocess.run(
        [
            "hyperfine",
            "--warmup",
            "1",
            "--runs",
            str(runs),
            "-N",
            "--export-json",
            str(out),
            " ".join(command),
        ],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    r = json.loads(out.read_text())["results"][0]
    return {
        "tool": "hyperfine",
        "mean_s": round(r["mean"], 3),
        "median_s": round(r["median"], 3),
        "min_s": round(r["min"], 3),
        "stddev_s": round(r["stddev"], 3),
        "user_s": round(r["user"], 3),
        "system_s": round(r["system"], 3),
    }


def _python_loop(command: list[str], runs: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)  # warm-up
    walls: list[float] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
        walls.append(time.perf_counter() - began)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "tool": "python",
        "mean_s": round(statistics.mean(walls), 3),
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "stddev_s": round(statistics.pstdev(walls), 3),
        "user_s": round((after.ru_utime - before.ru_utime) / runs, 3),
        "system_s": round((after.ru_stime - before.ru_stime) / runs, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--src", type=Path, default=SRC, help="source tree to time")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module on every run (PYTHONDONTWRITEBYTECODE=1)",
    )
    parser.add_argument(
        "--pass-max-bytes",
        action="store_true",
        help="pass --max-bytes (trees older than the 64 MiB default refuse the large STL)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mf-quote-cli-") as tmp:
        folder = Path(tmp)
        models = make_models(folder, args.triangles)
        env = dict(os.environ, PYTHONPATH=str(args.src.resolve()))
        env.pop("MICROFACTORY_DATABASE_URL", None)
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            # as an installed package: modules compiled once (in the warm-up run), not on
            # every start; a prefix keeps the .pyc files out of the source tree
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        db = f"sqlite:///{folder / 'bench.db'}"
        base = [sys.executable, "-m", "microfactory"]
        subprocess.run(
            [*base, "init", "--db", db], env=env, cwd=folder, check=True, capture_output=True
        )
        timer = _hyperfine if shutil.which("hyperfine") else _python_loop
        cases: dict[str, Any] = {}
        for name, (path, faces) in models.items():
            # no --max-bytes: the default upload limit (64 MiB) takes a 1,000,000-triangle STL
            command = [*base, "quote", path.name, "--material", "pla-black", "--db", db]
            if args.pass_max_bytes:
                command += ["--max-bytes", str(path.stat().st_size + 1)]
            cases[name] = {"triangles": faces, "bytes": path.stat().st_size}
            cases[name] |= timer(command, args.runs, env, folder)
    print(
        json.dumps(
            {
                "benchmark": "quote_cli",
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "src": str(args.src),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "runs": args.runs,
                "max_bytes_passed": args.pass_max_bytes,
                "bytecode_cached": not args.no_bytecode_cache,
                "goal_s": {"small": 1.5, "large": 3.0},
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
