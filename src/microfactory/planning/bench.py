"""Benchmark glue shared by `microfactory bench schedule` and `benchmarks/schedule/`:
read an instance, minimise its makespan (or, for a job shop with due dates, its total
weighted tardiness), check the plan independently, report a row."""

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
    """(row, problem, result); the row has the DESIGN.md keys plus `feasible` / `solver`.

    An instance with due dates (the JSON format) is solved for the total weighted
    tardiness; its row adds `objective` ("weighted_tardiness") and `weighted_tardiness`,
    and `lower_bound` is the solver's proven bound on it (0 when none)."""
    problem = read_instance(path)
    objective = objective_for(problem)
    result = solve(problem, objective, time_limit, workers, seed=seed)
    if objective is Objective.MAKESPAN:
        lower = static_lower_bound(problem)
        if result.bound is not None:
            lower = max(lower, result.bound)
    else:
        lower = max(0, result.bound or 0)
    errors = check_plan(problem, result.assignments) if result.has_plan else []
    row: dict[str, Any] = {
        "instance": problem.name or path.stem,
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
    if objective is not Objective.MAKESPAN:
        row["objective"] = objective.value
        row["weighted_tardiness"] = result.weighted_tardiness
    if errors:
        row["violations"] = errors[:5]
    return row, problem, result


def objective_for(problem: Problem) -> Objective:
    """Total weighted tardiness for an instance with due dates, else the makespan."""
    return Objective.WEIGHTED_TARDINESS if problem.has_due_dates else Objective.MAKESPAN


def solution_document(problem: Problem, result: ScheduleResult) -> dict[str, Any]:
    """`{"makespan": int, "operations": [{job, op, machine, start, end}, ...]}`, 0-based
    job / op-within-job / machine indices as they appear in the file. For an instance with
    due dates: `{"objective": total weighted tardiness, "starts": [[start of each op of
    job 0], [job 1], ...]}` (the contract of the due-date benchmark)."""
    if problem.has_due_dates:
        start = {a.op: a.start for a in result.assignments}
        return {
            "objective": result.weighted_tardiness,
            "starts": [[start[op] for op in ops] for ops in problem.job_ops()],
        }
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
