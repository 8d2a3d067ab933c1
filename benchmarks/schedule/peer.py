"""The textbook CP-SAT flexible job-shop model, the peer in the benchmark.

One optional interval per alternative machine, exactly-one presence, precedence on the
chosen intervals, no-overlap per machine, makespan objective; no hints, no search tuning.
The horizon is the sum of the longest durations (the usual textbook choice).
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from microfactory.planning.model import Assignment, Problem


def solve_peer(
    problem: Problem, time_limit: float, workers: int
) -> tuple[str, int | None, int | None, float, list[Assignment]]:
    """(status, makespan, lower bound, seconds, plan)."""
    began = time.perf_counter()
    model = cp_model.CpModel()
    horizon = sum(max(m.duration for m in op.modes) for op in problem.operations)
    starts, ends, choices = [], [], []
    per_machine: dict[int, list[cp_model.IntervalVar]] = {}
    for i, op in enumerate(problem.operations):
        start = model.new_int_var(0, horizon, f"s{i}")
        end = model.new_int_var(0, horizon, f"e{i}")
        lits = []
        for mode in op.modes:
            lit = model.new_bool_var(f"x{i}_{mode.machine}")
            interval = model.new_optional_interval_var(start, mode.duration, end, lit, f"i{i}")
            per_machine.setdefault(mode.machine, []).append(interval)
            lits.append((mode.machine, mode.duration, lit))
        model.add_exactly_one([lit for _, _, lit in lits])
        starts.append(start)
        ends.append(end)
        choices.append(lits)
    for before, after in problem.precedences:
        model.add(starts[after] >= ends[before])
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, ends)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    code = solver.solve(model)
    seconds = time.perf_counter() - began
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = "infeasible" if code == cp_model.INFEASIBLE else "timeout_no_solution"
        return status, None, None, seconds, []
    plan = []
    for i, lits in enumerate(choices):
        for machine, duration, lit in lits:
            if solver.boolean_value(lit):
                s = solver.value(starts[i])
                plan.append(Assignment(i, machine, s, s + duration))
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return status, round(solver.objective_value), round(solver.best_objective_bound), seconds, plan
