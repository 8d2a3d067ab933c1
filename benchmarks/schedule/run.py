"""Makespan benchmark: microfactory's solver against the textbook CP-SAT model (the peer),
same instances, same time limit, same workers, in the same run.

    .venv/bin/python benchmarks/schedule/run.py --set mk01-10 --time-limit 60 --workers 2 \
        --parallel 8 --table benchmarks/schedule/mk.md

Prints one JSON object per (instance, solver) run, then writes a Markdown table: ours,
peer, best known (from BEST_KNOWN.md), gaps, and mean gaps. Every plan is verified by the
independent checker. `--parallel N` runs N instance-solves at once in separate processes
(use N * workers <= cores). `--set factory2000` runs the factory benchmark (factory.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
DATA = Path(os.environ.get("MICROFACTORY_DATA_DIR", HERE.parents[2] / "shared" / "data"))


def instance_paths(name: str) -> list[Path]:
    """mk01-10, la21-40, ta21-30, ta41-50 or a comma list of instance names; a Hurink
    instance is named by its set: edata/la16 (hurink/edata/la16.fjs)."""
    match = re.fullmatch(r"([a-z]+)(\d+)-(\d+)", name)
    if match:
        prefix, lo, hi = match.group(1), int(match.group(2)), int(match.group(3))
        names = [f"{prefix}{k:02d}" for k in range(lo, hi + 1)]
    else:
        names = [n for n in name.split(",") if n]
    paths = []
    for item in names:
        if "/" in item:
            paths.append(DATA / "fjsp" / "hurink" / f"{item}.fjs")
        elif item.startswith("mk"):
            paths.append(DATA / "fjsp" / "brandimarte" / f"{item}.fjs")
        else:
            paths.append(DATA / "jssp" / f"{item}.txt")
    return paths


def best_known() -> dict[str, int]:
    """instance -> best known upper bound, from both BEST_KNOWN.md tables (Hurink
    instances under their set's name: edata/la16)."""
    table: dict[str, int] = {}
    for path in (DATA / "jssp" / "BEST_KNOWN.md", DATA / "fjsp" / "BEST_KNOWN.md"):
        header: list[str] = []
        prefix = ""
        for line in path.read_text().splitlines():
            hurink = re.match(r"## Hurink (\w+)", line)
            if line.startswith("## "):
                prefix = f"{hurink.group(1)}/" if hurink else ""
            if not line.startswith("|"):
                header = []
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if "instance" in cells:
                header = cells
            elif header and not set(cells[0]) <= {"-"} and "best UB" in header:
                value = cells[header.index("best UB")]
                if value.isdigit() and prefix + cells[0] not in table:
                    table[prefix + cells[0]] = int(value)
    return table


def run_one(task: tuple[str, str, float, int]) -> dict[str, Any]:
    path_text, solver, time_limit, workers = task
    path = Path(path_text)
    sys.path.insert(0, str(HERE))
    from microfactory.planning.bench import run_instance
    from microfactory.planning.checker import check_plan
    from microfactory.planning.readers import read_instance

    if solver == "ours":
        row, _, _ = run_instance(path, time_limit, workers)
    else:
        from peer import solve_peer
        from pyjobshop_peer import solve_pyjobshop

        problem = read_instance(path)
        peer_solve = solve_pyjobshop if solver == "pyjobshop" else solve_peer
        status, makespan, bound, seconds, plan = peer_solve(problem, time_limit, workers)
        row = {
            "instance": path.stem,
            "jobs": len(problem.jobs),
            "machines": len(problem.machines),
            "operations": problem.n_ops,
            "makespan": makespan,
            "lower_bound": bound,
            "status": status,
            "seconds": round(seconds, 3),
            "feasible": (not check_plan(problem, plan)) if plan else None,
        }
    if path.parent.parent.name == "hurink":
        row["instance"] = f"{path.parent.name}/{path.stem}"
    row["engine"] = row.get("solver", "peer")
    row["solver"] = solver
    row["time_limit"] = time_limit
    row["workers"] = workers
    return row


def gap(value: int | None, best: int | None) -> float | None:
    if value is None or not best:
        return None
    return 100.0 * (value - best) / best


def table(
    rows: list[dict[str, Any]],
    best: dict[str, int],
    title: str,
    solvers: tuple[str, ...] = ("ours", "peer"),
) -> str:
    """One line per instance: best known, then each solver's makespan and gap."""
    by_instance: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_instance.setdefault(row["instance"], {})[row["solver"]] = row
    head = "".join(f" {s} | {s} gap % |" for s in solvers)
    lines = [
        f"### {title}",
        "",
        f"| instance | size | best known |{head} ours LB |",
        "|---|---|---|" + "---|---|" * len(solvers) + "---|",
    ]
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for name in sorted(by_instance):
        runs = by_instance[name]
        any_row = next(iter(runs.values()))
        ref = best.get(name)
        cells = []
        for solver in solvers:
            value = runs.get(solver, {}).get("makespan")
            g = gap(value, ref)
            if g is not None:
                gaps[solver].append(g)
            cells.append(f" {value} | {_fmt(g)} |")
        size = f"{any_row.get('jobs')}x{any_row.get('machines')}"
        lower = runs.get("ours", {}).get("lower_bound")
        lines.append(f"| {name} | {size} | {ref} |{''.join(cells)} {lower} |")
    mean = {k: (sum(v) / len(v) if v else None) for k, v in gaps.items()}
    tail = "".join(f" | **{_fmt(mean[s])}** |" for s in solvers)
    lines.append(f"| **mean** | | |{tail} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", required=True)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--solvers", default="ours,peer")
    parser.add_argument("--table", type=Path, help="write the Markdown table here")
    parser.add_argument(
        "--reference-time", type=float, default=0.0, help="factory2000: longer reference run"
    )
    args = parser.parse_args()
    if any(s == "factory2000" for s in args.sets):
        from factory import main as factory_main

        factory_main(
            [
                "--time-limit", str(args.time_limit),
                "--workers", str(args.workers),
                "--reference-time", str(args.reference_time),
            ]
        )  # fmt: skip
        args.sets = [s for s in args.sets if s != "factory2000"]
        if not args.sets:
            return
    paths = [p for name in args.sets for p in instance_paths(name)]
    solvers = args.solvers.split(",")
    tasks = [(str(p), s, args.time_limit, args.workers) for p in paths for s in solvers]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        for row in pool.map(run_one, tasks):
            print(json.dumps(row), flush=True)
            rows.append(row)
    title = (
        f"{', '.join(args.sets)}: {args.time_limit:g} s, {args.workers} workers, "
        f"{args.parallel} runs in parallel, {os.cpu_count()} cores"
    )
    text = table(rows, best_known(), title, tuple(solvers))
    print(text)
    if args.table:
        args.table.write_text(text)


if __name__ == "__main__":
    main()
