"""PyJobShop (PyPI `pyjobshop`, OR-Tools CP-SAT backend), the peer a Python user would
pick: the same problem handed to its Model API, solved with the same time limit and
workers. Used by run.py (makespan: `--solvers ours,pyjobshop`) and twt/run.py (total
weighted tardiness). Install: `pip install 'pyjobshop>=0.0.9'` (the `bench` extra).
"""

from __future__ import annotations

import time

from microfactory.planning.model import Assignment, Problem


def solve_pyjobshop(
    problem: Problem, time_limit: float, workers: int, tardiness: bool = False
) -> tuple[str, int | None, int | None, float, list[Assignment]]:
    """(status, objective, lower bound, seconds, plan). `tardiness`: minimise the total
    weighted tardiness (job weights and due dates), else the makespan."""
    from pyjobshop import Model

    began = time.perf_counter()
    model = Model()
    machines = [model.add_machine(name=m.name) for m in problem.machines]
    jobs = [
        model.add_job(
            weight=job.weight,
            release_date=job.release,
            due_date=job.due if tardiness else None,
            name=job.name,
        )
        for job in problem.jobs
    ]
    tasks = []
    for op in problem.operations:
        task = model.add_task(job=jobs[op.job], earliest_start=op.release, name=op.name)
        for mode in op.modes:
            model.add_mode(task, machines[mode.machine], mode.duration)
        tasks.append(task)
    for before, after in problem.precedences:
        model.add_end_before_start(tasks[before], tasks[after])
    if tardiness:
        model.set_objective(weight_total_tardiness=1)
    else:
        model.set_objective(weight_makespan=1)
    result = model.solve(
        solver="ortools", time_limit=time_limit, num_workers=workers, display=False
    )
    seconds = time.perf_counter() - began
    status = result.status.value.lower()
    if status not in ("optimal", "feasible"):
        return status, None, None, seconds, []
    plan: list[Assignment] = []
    for index, data in enumerate(result.best.tasks):
        # resources were added in machine order, so a resource index is a machine index
        machine = int(data.resources[0])
        plan.append(Assignment(index, machine, int(data.start), int(data.end)))
    return status, round(result.objective), round(result.lower_bound), seconds, plan
