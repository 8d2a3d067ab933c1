"""The generated factory handed to PyJobShop (PyPI `pyjobshop`, OR-Tools CP-SAT backend),
operators and shifts included, for `factory.py --pyjobshop`.

PyJobShop 0.0.9 can state everything the crew adds, in its own terms:

* an operator is a renewable resource of capacity 100 whose breaks are the off-shift
  windows; a machine's calendar windows are the machine's breaks (no task may overlap one);
* an operation needing a person for its whole run (`run`) or a share of one (`share`) has
  one mode per (eligible machine, qualified operator), demanding the share of that person;
* an operation needing a person only for setup and unload (`setup`, printers) is a task on
  its machines plus a setup task (same start) and an unload task (same end) on the
  qualified operators, both by the same person (`identical_resources`).

What it cannot take at this size is the machines' sequence-dependent setup times: they are
a dense matrix of resources x tasks x tasks integers (20 x 2,003 x 2,003 = 80 M, ~640 MB
without the crew; 36 x 3,045 x 3,045, ~2.7 GB with it), built before the solver starts.
`factory.py --no-setups` therefore removes them from the instance for both solvers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from microfactory.planning.model import Assignment, Attendance, Problem


@dataclass(frozen=True)
class PeerResult:
    status: str
    objective: int | None
    lower_bound: int | None
    seconds: float
    build_seconds: float
    plan: list[Assignment]


def solve_factory(problem: Problem, time_limit: float, workers: int) -> PeerResult:
    """Minimise the total weighted tardiness of `problem` (no setup times) with PyJobShop."""
    from pyjobshop import Model

    if any(m.setups for m in problem.machines):
        raise ValueError("PyJobShop gets the factory without setup times (--no-setups)")
    began = time.perf_counter()
    model = Model()
    machines = [
        model.add_machine(breaks=[(w.start, w.end) for w in m.unavailable], name=m.name)
        for m in problem.machines
    ]
    people = [
        model.add_renewable(100, breaks=[(w.start, w.end) for w in p.unavailable], name=p.name)
        for p in problem.operators
    ]
    jobs = [
        model.add_job(weight=job.weight, release_date=job.release, due_date=job.due, name=job.name)
        for job in problem.jobs
    ]
    tasks = []
    helpers: dict[int, tuple[object, object | None]] = {}  # op -> (setup task, unload task)
    for index, op in enumerate(problem.operations):
        task = model.add_task(job=jobs[op.job], earliest_start=op.release, name=op.name)
        tasks.append(task)
        crew = op.crew
        qualified = (
            []
            if crew is None
            else [k for k, p in enumerate(problem.operators) if crew.skill in p.skills]
        )
        if crew is not None and not qualified:
            raise ValueError(f"operation {index} needs skill {crew.skill!r} and nobody has it")
        split = (
            crew is not None
            and crew.attendance is Attendance.SETUP
            and all(crew.setup + crew.unload < mode.duration for mode in op.modes)
        )
        if crew is None or split:
            for mode in op.modes:
                model.add_mode(task, machines[mode.machine], mode.duration)
        else:
            for mode in op.modes:
                for k in qualified:
                    model.add_mode(
                        task, [machines[mode.machine], people[k]], mode.duration, [0, crew.load]
                    )
        if split:
            assert crew is not None
            setup = unload = None
            if crew.setup > 0:
                setup = model.add_task(name=f"{op.name}/setup")
                for k in qualified:
                    model.add_mode(setup, people[k], crew.setup, 100)
                model.add_start_at_start(task, setup)
            if crew.unload > 0:
                unload = model.add_task(name=f"{op.name}/unload")
                for k in qualified:
                    model.add_mode(unload, people[k], crew.unload, 100)
                model.add_end_at_end(task, unload)
            if setup is not None and unload is not None:
                model.add_identical_resources(setup, unload)
            helpers[index] = (setup or unload, unload)
    for before, after in problem.precedences:
        model.add_end_before_start(tasks[before], tasks[after])
    model.set_objective(weight_total_tardiness=1)
    build = time.perf_counter() - began
    result = model.solve(
        solver="ortools", time_limit=time_limit, num_workers=workers, display=False
    )
    seconds = time.perf_counter() - began - build
    status = result.status.value.lower()
    if status not in ("optimal", "feasible"):
        return PeerResult(status, None, None, seconds, build, [])
    n_machines = len(problem.machines)
    task_index = {id(t): k for k, t in enumerate(model.tasks)}
    plan: list[Assignment] = []
    for index in range(len(problem.operations)):
        data = result.best.tasks[task_index[id(tasks[index])]]
        # machines were added first, in problem order, then the operators
        machine = next(int(r) for r in data.resources if r < n_machines)
        who = next((int(r) - n_machines for r in data.resources if r >= n_machines), None)
        if index in helpers:
            first = helpers[index][0]
            who = int(result.best.tasks[task_index[id(first)]].resources[0]) - n_machines
        plan.append(Assignment(index, machine, int(data.start), int(data.end), who))
    return PeerResult(
        status, round(result.objective), round(result.lower_bound), seconds, build, plan
    )
