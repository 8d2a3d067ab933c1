"""Benchmark glue shared by `microfactory bench schedule` and `benchmarks/schedule/`:
read an instance, minimise its makespan, check the plan independently, report a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from microfactory.planning.bounds import static_lower_bound
from microfactory.planning.checker import check_plan
from microfactory.planning.model import Objective, Problem
from microfactory.planning.readers import read_instance
from microfactory.planning.result import ScheduleResult
from microfactory.planning.solver import solve


def run_instance(
    path: Path, time_limit: float, workers: int, seed: int = 0
) -> tuple[dict[str, Any], Problem, ScheduleResult]:
    """(row, problem, result); the row has the DESIGN.md keys plus `feasible` / `solver`."""
    problem = read_instance(path)
    result = solve(problem, Objective.MAKESPAN, time_limit, workers, seed=seed)
    lower = static_lower_bound(problem)
    if result.bound is not None:
        lower = max(lower, result.bound)
    errors = check_plan(problem, result.assignments) if result.has_plan else []
    row: dict[str, Any] = {
        "instance": path.stem,
        "jobs": len(problem.jobs),
        "machines": len(problem.machines),
        "operations": problem.n_ops,
        "makespan": result.makespan,
        "lower_bound": lower,
        "status": result.status.value,
        "seconds": round(result.seconds, 3),
        "feasible": not errors if result.has_plan else None,
        "solver": result.solver,
    }
    if errors:
        row["violations"] = errors[:5]
    return row, problem, result


def solution_document(problem: Problem, result: ScheduleResult) -> dict[str, Any]:
    """`{"makespan": int, "operations": [{job, op, machine, start, end}, ...]}`, 0-based
    job / op-within-job / machine indices as they appear in the file."""
    position: dict[int, tuple[int, int]] = {}
    for job, ops in enumerate(problem.job_ops()):
        for k, op in enumerate(ops):
            position[op] = (job, k)
    operations = [
        {
            "job": position[a.op][0],
            "op": position[a.op][1],
            "machine": a.machine,
            "start": a.start,
            "end": a.end,
        }
        for a in sorted(result.assignments, key=lambda a: position[a.op])
    ]
    return {"makespan": result.makespan, "operations": operations}
