"""Large-neighbourhood search around CP-SAT, for instances where the monolithic model stalls.

Each iteration relaxes a neighbourhood of the incumbent plan and re-solves it with CP-SAT:
the relaxed operations may change machine and position; every other operation keeps its
machine and its order on that machine (an extra precedence between consecutive kept
operations), which leaves all start times free to shift. The sub-model is hinted with the
incumbent, so it never returns anything worse; equal plans are accepted to walk plateaus.

Neighbourhoods: a time window (operations starting in [t, t + w)), a few machines (all
their operations), a few jobs (all their operations). The neighbourhood size adapts: it
grows after a sub-problem is solved to optimality quickly, shrinks after a timeout.
Anytime: the best plan so far is returned when the time is up.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from microfactory.planning.cpsat import (
    InfeasibleModel,
    ModelSpec,
    build_model,
    extract,
    safe_horizon,
    solver_parameters,
)
from microfactory.planning.model import Assignment, Mode, Objective, Problem
from microfactory.planning.result import makespan_of, objective_value

NEIGHBOURHOODS = ("window", "machines", "jobs")


@dataclass
class LnsStats:
    iterations: int = 0
    improvements: int = 0
    history: list[tuple[float, int]] | None = None


def relax_subproblem(
    problem: Problem, incumbent: Sequence[Assignment], relaxed: set[int]
) -> tuple[Problem, dict[int, list[int]]] | None:
    """The problem with every non-relaxed operation pinned to its machine and its order;
    None when the chain edges would make a cycle (zero-length ties)."""
    by_op = {a.op: a for a in incumbent}
    frozen = problem.frozen_by_op()
    operations = list(problem.operations)
    chains: dict[int, list[int]] = {}
    for a in sorted(incumbent, key=lambda a: (a.start, a.end, a.op)):
        if a.op in relaxed:
            continue
        op = operations[a.op]
        if len(op.modes) > 1 and a.op not in frozen:
            operations[a.op] = replace(op, modes=(Mode(a.machine, a.end - a.start),))
        chains.setdefault(a.machine, []).append(a.op)
    extra = [
        (first, second)
        for chain in chains.values()
        for first, second in itertools.pairwise(chain)
        if by_op[first].end > by_op[first].start or by_op[second].start > by_op[first].start
    ]
    try:
        sub = replace(
            problem,
            operations=tuple(operations),
            precedences=tuple(problem.precedences) + tuple(extra),
        )
    except ValueError:
        return None
    return sub, chains


def choose_neighbourhood(
    problem: Problem, incumbent: Sequence[Assignment], size: int, kind: str, rng: random.Random
) -> set[int]:
    n = problem.n_ops
    size = max(1, min(size, n))
    frozen = problem.frozen_by_op()
    if kind == "window":
        ordered = sorted(incumbent, key=lambda a: a.start)
        first = rng.randrange(0, max(1, n - size + 1))
        chosen = {a.op for a in ordered[first : first + size]}
    elif kind == "machines":
        machines = list(range(len(problem.machines)))
        rng.shuffle(machines)
        chosen = set()
        for m in machines:
            chosen |= {a.op for a in incumbent if a.machine == m}
            if len(chosen) >= size:
                break
    else:
        jobs = list(range(len(problem.jobs)))
        rng.shuffle(jobs)
        job_ops = problem.job_ops()
        chosen = set()
        for j in jobs:
            chosen |= set(job_ops[j])
            if len(chosen) >= size:
                break
    return chosen - set(frozen)


def improve(
    problem: Problem,
    incumbent: Sequence[Assignment],
    objective: Objective,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    previous: Mapping[int, Assignment] | None = None,
    stability_weight: int = 0,
    initial_size: int = 40,
    stats: LnsStats | None = None,
) -> list[Assignment]:
    """The best plan found from `incumbent` within `time_limit` seconds."""
    began = time.perf_counter()
    rng = random.Random(seed)
    scale = safe_horizon(problem, previous) + 1
    best = list(incumbent)
    best_value = score(problem, best, objective, scale, previous, stability_weight)
    size = min(initial_size, problem.n_ops)
    sub_limit = 1.0
    stats = stats if stats is not None else LnsStats()
    stats.history = [(0.0, best_value)]
    while True:
        left = time_limit - (time.perf_counter() - began)
        if left < 0.05 or problem.n_ops == 0:
            break
        kind = NEIGHBOURHOODS[stats.iterations % len(NEIGHBOURHOODS)]
        stats.iterations += 1
        relaxed = choose_neighbourhood(problem, best, size, kind, rng)
        built = relax_subproblem(problem, best, relaxed)
        if built is None:
            continue
        sub, chains = built
        horizon = scale - 1
        if objective is Objective.MAKESPAN and not (previous and stability_weight):
            horizon = makespan_of(best)
        spec = ModelSpec(objective, horizon, previous, stability_weight, chains=chains)
        try:
            model, v = build_model(sub, spec, best)
        except InfeasibleModel:
            continue
        solver = solver_parameters(min(sub_limit, left), workers, seed + stats.iterations)
        code = solver.solve(model)
        name = solver.status_name(code)
        if name in ("OPTIMAL", "FEASIBLE"):
            plan = extract(sub, solver, v)
            value = score(problem, plan, objective, scale, previous, stability_weight)
            if value < best_value:
                stats.improvements += 1
                stats.history.append((time.perf_counter() - began, value))
            if value <= best_value:
                best, best_value = plan, value
        if name == "OPTIMAL" and solver.wall_time < 0.5 * sub_limit:
            size = min(problem.n_ops, int(size * 1.15) + 1)
        elif name != "OPTIMAL":
            size = max(8, int(size * 0.9))
            sub_limit = min(5.0, sub_limit * 1.1)
    return best


def score(
    problem: Problem,
    plan: Sequence[Assignment],
    objective: Objective,
    scale: int,
    previous: Mapping[int, Assignment] | None,
    stability_weight: int,
) -> int:
    value = objective_value(problem, plan, objective, scale)
    if previous and stability_weight:
        moved = sum(
            1
            for a in plan
            if a.op in previous
            and (previous[a.op].machine != a.machine or previous[a.op].start != a.start)
        )
        value += stability_weight * moved
    return value
