"""Total-weighted-tardiness benchmark (Singer & Pinedo's 66 instances, README.md): ours,
PyJobShop and the textbook CP-SAT model on the same instances, the same time limit and
workers, in the same run.

    .venv/bin/python benchmarks/schedule/twt/run.py --set f13:la16-24 --time-limit 60 \
        --workers 2 --solutions /tmp/twt --jsonl results.jsonl

`--set` takes `fXX:base-range` (f13:la16-24, f15:orb1-10, f16:abz5-6, all:mt10) or `all`.
Ours runs through the contract (`microfactory bench schedule FILE.json --json
--solution-dir DIR`, a fresh process); the peers write the same solution format; every
solution is verified by the independent `check.py`, whose recomputed objective is the one
reported. Prints one JSON object per (instance, solver) run (appended to `--jsonl`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from check import check  # noqa: E402

BASES = ["abz5", "abz6", *[f"la{k}" for k in range(16, 25)], "mt10"]
BASES += [f"orb{k}" for k in range(1, 11)]


def instance_names(spec: str) -> list[str]:
    if spec == "all":
        return [f"{b}_{f}" for f in ("f13", "f15", "f16") for b in BASES]
    factors_text, _, bases_text = spec.partition(":")
    factors = ["f13", "f15", "f16"] if factors_text == "all" else factors_text.split("+")
    match = re.fullmatch(r"([a-z]+)(\d+)-(\d+)", bases_text)
    if match:
        prefix, lo, hi = match.group(1), int(match.group(2)), int(match.group(3))
        bases = [f"{prefix}{k}" for k in range(lo, hi + 1)]
    else:
        bases = bases_text.split(",")
    return [f"{b}_{f}" for f in factors for b in bases]


def textbook(
    problem: Any, time_limit: float, workers: int
) -> tuple[str, int | None, int | None, list[Any]]:
    """The textbook CP-SAT model: an interval per operation, no-overlap per machine,
    precedence, T_j >= C_j - d_j, T_j >= 0, minimise sum w_j T_j; no hint, no tuning."""
    from ortools.sat.python import cp_model

    from microfactory.planning.model import Assignment

    model = cp_model.CpModel()
    horizon = sum(op.modes[0].duration for op in problem.operations) + max(
        job.release for job in problem.jobs
    )
    starts, ends, per_machine = [], [], {}
    for i, op in enumerate(problem.operations):
        mode = op.modes[0]
        start = model.new_int_var(problem.release_of(i), horizon, f"s{i}")
        end = model.new_int_var(0, horizon, f"e{i}")
        interval = model.new_interval_var(start, mode.duration, end, f"i{i}")
        per_machine.setdefault(mode.machine, []).append(interval)
        starts.append(start)
        ends.append(end)
    for before, after in problem.precedences:
        model.add(starts[after] >= ends[before])
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    tardy = []
    for j, ops in enumerate(problem.job_ops()):
        job = problem.jobs[j]
        late = model.new_int_var(0, horizon, f"t{j}")
        model.add(late >= ends[ops[-1]] - (job.due or 0))
        tardy.append(job.weight * late)
    model.minimize(sum(tardy))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "no_solution", None, None, []
    plan = [
        Assignment(i, op.modes[0].machine, solver.value(starts[i]), solver.value(ends[i]))
        for i, op in enumerate(problem.operations)
    ]
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return status, round(solver.objective_value), round(solver.best_objective_bound), plan


def run_one(path: Path, solver: str, time_limit: float, workers: int, out: Path) -> dict[str, Any]:
    name = path.stem
    target = out / solver / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    began = time.perf_counter()
    row: dict[str, Any] = {"instance": name, "solver": solver}
    if solver == "ours":
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run(
            [sys.executable, "-m", "microfactory", "bench", "schedule", str(path),
             "--time-limit", str(time_limit), "--workers", str(workers), "--json",
             "--solution-dir", str(target.parent)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        reported = json.loads(lines[-1]) if lines else {}
        row.update(
            status=reported.get("status", f"error rc={done.returncode}"),
            lower_bound=reported.get("lower_bound"),
            seconds=reported.get("seconds"),
            engine=reported.get("solver"),
        )
    else:
        from microfactory.planning.readers import read_instance

        problem = read_instance(path)
        start = {}
        if solver == "pyjobshop":
            from pyjobshop_peer import solve_pyjobshop

            status, _, bound, _, plan = solve_pyjobshop(problem, time_limit, workers, True)
        else:
            status, _, bound, plan = textbook(problem, time_limit, workers)
        row.update(status=status, lower_bound=bound, seconds=round(time.perf_counter() - began, 3))
        if plan:
            start = {a.op: a.start for a in plan}
            from microfactory.planning.result import weighted_tardiness_of

            document = {
                "objective": weighted_tardiness_of(problem, plan),
                "starts": [[start[op] for op in ops] for ops in problem.job_ops()],
            }
            target.write_text(json.dumps(document) + "\n")
    row["wall_s"] = round(time.perf_counter() - began, 3)
    if target.exists():
        errors, total = check(json.loads(path.read_text()), json.loads(target.read_text()))
        row.update(weighted_tardiness=total, feasible=not errors, errors=errors[:3])
    else:
        row.update(weighted_tardiness=None, feasible=None)
    row.update(time_limit=time_limit, workers=workers)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", required=True)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--solvers", default="ours,pyjobshop,textbook")
    parser.add_argument("--instances", type=Path, default=HERE / "instances")
    parser.add_argument("--solutions", type=Path, default=Path("/tmp/twt-solutions"))
    parser.add_argument("--jsonl", type=Path, help="append every row here")
    args = parser.parse_args()
    names = [n for spec in args.sets for n in instance_names(spec)]
    for name in names:
        for solver in args.solvers.split(","):
            row = run_one(
                args.instances / f"{name}.json", solver, args.time_limit, args.workers,
                args.solutions,
            )  # fmt: skip
            line = json.dumps(row)
            print(line, flush=True)
            if args.jsonl:
                with args.jsonl.open("a") as handle:
                    handle.write(line + "\n")


if __name__ == "__main__":
    main()
