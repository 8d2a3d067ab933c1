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
    circuit_size,
    extract,
    safe_horizon,
    solver_parameters,
)
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Mode,
    Objective,
    Operator,
    Problem,
    Window,
    merge_windows,
)
from microfactory.planning.result import makespan_of, objective_value

NEIGHBOURHOODS = ("window", "machines", "jobs")
MAKESPAN_NEIGHBOURHOODS = ("critical", "window", "critical", "machines", "critical", "jobs")
LARGE_OPS = 600  # above: small window sub-problems instead of the whole model
LARGE_ARCS = 10_000  # same for setup circuits above this size
MAX_SUB_SECONDS = 5.0  # a sub-problem's time limit grows after timeouts up to this


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


def window_subproblem(
    problem: Problem, incumbent: Sequence[Assignment], relaxed: set[int]
) -> tuple[Problem, list[int], dict[int, list[int]]]:
    """A small problem for large instances: the relaxed operations, free, and only the kept
    operations they could touch (frozen); every other kept operation becomes an
    unavailability window of its machine. Kept predecessors and successors give releases
    and deadlines; a relaxed operation may end at most one window span after its current
    end (the neighbourhood). Returns (sub-problem, sub index -> full index, kept chains by
    machine in sub indices). The sub-problem's weighted tardiness differs from the full
    one by a constant."""
    by_op = {a.op: a for a in incumbent}
    preds, succ = problem.predecessors(), problem.successors()
    span = max(by_op[r].end for r in relaxed) - min(by_op[r].start for r in relaxed)
    release: dict[int, int] = {}
    deadline: dict[int, int] = {}
    for r in relaxed:
        release[r] = max(
            [problem.release_of(r)] + [by_op[p].end for p in preds[r] if p not in relaxed]
        )
        deadline[r] = min(
            [by_op[r].end + span] + [by_op[q].start for q in succ[r] if q not in relaxed]
        )
    ranges: dict[int, tuple[int, int]] = {}
    for r in relaxed:
        for mode in problem.operations[r].modes:
            lo, hi = ranges.get(mode.machine, (release[r], deadline[r]))
            ranges[mode.machine] = (min(lo, release[r]), max(hi, deadline[r]))
    context: dict[int, list[int]] = {}
    blocked: dict[int, list[Window]] = {}
    on_machine: dict[int, list[Assignment]] = {}
    for a in sorted(incumbent, key=lambda a: (a.start, a.end, a.op)):
        if a.op not in relaxed:
            on_machine.setdefault(a.machine, []).append(a)
    for m, kept in on_machine.items():
        lo, hi = ranges.get(m, (0, -1))
        inside = [k for k, a in enumerate(kept) if a.end > lo and a.start < hi]
        if inside:
            first, last = max(0, inside[0] - 1), min(len(kept) - 1, inside[-1] + 1)
        else:
            before = [k for k, a in enumerate(kept) if a.end <= lo]
            first = before[-1] if before else 0
            last = min(len(kept) - 1, first + 1)
        if m not in ranges:
            first, last = 0, -1
        context[m] = [a.op for a in kept[first : last + 1]]
        blocked[m] = [
            Window(a.start, a.end)
            for k, a in enumerate(kept)
            if not first <= k <= last and a.end > a.start
        ]
    order = sorted(relaxed) + [op for m in sorted(context) for op in context[m]]
    index = {op: k for k, op in enumerate(order)}
    operations = []
    frozen = []
    for op in order:
        base = problem.operations[op]
        if op in relaxed:
            operations.append(
                replace(base, release=release[op], deadline=max(deadline[op], release[op]))
            )
        else:
            a = by_op[op]
            operations.append(replace(base, modes=(Mode(a.machine, a.end - a.start),), release=0))
            frozen.append(FrozenOp(index[op], a.machine, a.start, a.operator))
    machines = tuple(
        replace(mach, unavailable=merge_windows([*mach.unavailable, *blocked.get(m, [])]))
        for m, mach in enumerate(problem.machines)
    )
    jobs = list(problem.jobs)
    sinks_done: dict[int, int] = {}
    relaxed_sink_jobs: set[int] = set()
    for op, operation in enumerate(problem.operations):
        if any(problem.operations[q].job == operation.job for q in succ[op]):
            continue
        if op in relaxed:
            relaxed_sink_jobs.add(operation.job)
        else:
            sinks_done[operation.job] = max(sinks_done.get(operation.job, 0), by_op[op].end)
    for j, job in enumerate(jobs):
        if j in relaxed_sink_jobs and job.due is not None:
            jobs[j] = replace(job, due=max(job.due, sinks_done.get(j, 0)), release=0)
        else:
            jobs[j] = replace(job, due=None, release=0)
    sub = Problem(
        machines=machines,
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple(
            (index[a], index[b]) for a, b in problem.precedences if a in index and b in index
        ),
        frozen=tuple(frozen),
        operators=_busy_operators(problem, incumbent, set(index)),
    )
    chains = {m: [index[op] for op in ops] for m, ops in context.items()}
    return sub, order, chains


def _busy_operators(
    problem: Problem, incumbent: Sequence[Assignment], inside: set[int]
) -> tuple[Operator, ...]:
    """The operators of a window sub-problem: every busy segment of an operation outside it
    becomes a window of its operator (whole: a shared load is not split, which is safe)."""
    if not problem.operators:
        return ()
    busy: list[list[Window]] = [[] for _ in problem.operators]
    for a in incumbent:
        crew = problem.operations[a.op].crew
        if a.op in inside or crew is None or a.operator is None:
            continue
        busy[a.operator].extend(
            Window(a.start + lo, a.start + hi) for lo, hi in crew.segments(a.end - a.start)
        )
    return tuple(
        replace(person, unavailable=merge_windows([*person.unavailable, *busy[k]]))
        if busy[k]
        else person
        for k, person in enumerate(problem.operators)
    )


def choose_neighbourhood(
    problem: Problem, incumbent: Sequence[Assignment], size: int, kind: str, rng: random.Random
) -> set[int]:
    n = problem.n_ops
    size = max(1, min(size, n))
    frozen = problem.frozen_by_op()
    if kind in ("window", "late_window"):
        ordered = sorted(incumbent, key=lambda a: a.start)
        first = rng.randrange(0, max(1, n - size + 1))
        late = _late_ops(problem, incumbent) if kind == "late_window" else []
        if late:
            # centre the window on an operation of a late job, drawn by its job's lateness
            anchor = rng.choices([op for op, _ in late], weights=[w for _, w in late])[0]
            position = next(k for k, a in enumerate(ordered) if a.op == anchor)
            first = max(0, min(n - size, position - rng.randrange(size)))
        chosen = {a.op for a in ordered[first : first + size]}
    elif kind == "critical":
        chosen = _critical_neighbourhood(problem, incumbent, size, rng)
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


def critical_path(problem: Problem, plan: Sequence[Assignment]) -> list[int]:
    """One critical path of the plan, first operation first: from an operation that ends
    at the makespan, back through predecessors (job or machine, setup included) whose end
    is exactly the start; it stops at an operation held back by its release or a calendar
    window. Ties are broken towards the job predecessor."""
    if not plan:
        return []
    by_op = {a.op: a for a in plan}
    preds = problem.predecessors()
    previous_on_machine: dict[int, int] = {}
    last: dict[int, int] = {}
    for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
        if a.machine in last:
            previous_on_machine[a.op] = last[a.machine]
        last[a.machine] = a.op
    current = max(plan, key=lambda a: (a.end, a.op)).op
    path = [current]
    seen = {current}
    while True:
        a = by_op[current]
        step = next((p for p in preds[current] if by_op[p].end == a.start), None)
        if step is None and current in previous_on_machine:
            before = previous_on_machine[current]
            machine = problem.machines[a.machine]
            gap = machine.setup(
                problem.operations[before].family, problem.operations[current].family
            )
            if by_op[before].end + gap == a.start:
                step = before
        if step is None or step in seen:
            break
        path.append(step)
        seen.add(step)
        current = step
    path.reverse()
    return path


def _critical_neighbourhood(
    problem: Problem, incumbent: Sequence[Assignment], size: int, rng: random.Random
) -> set[int]:
    """A random stretch of a critical path (the only operations whose move can shorten the
    makespan), topped up with operations that run at the same time on other machines,
    which gives the critical ones room to change machine."""
    path = critical_path(problem, incumbent)
    if not path:
        return set()
    length = min(len(path), max(2, size // 2))
    first = rng.randrange(0, len(path) - length + 1)
    chosen = set(path[first : first + length])
    by_op = {a.op: a for a in incumbent}
    lo = min(by_op[op].start for op in chosen)
    hi = max(by_op[op].end for op in chosen)
    overlapping = [a.op for a in incumbent if a.op not in chosen and a.end > lo and a.start < hi]
    rng.shuffle(overlapping)
    chosen.update(overlapping[: max(0, size - len(chosen))])
    return chosen


def _late_ops(problem: Problem, plan: Sequence[Assignment]) -> list[tuple[int, int]]:
    """(operation, weighted lateness of its job) for every operation of a late job."""
    completion = [0] * len(problem.jobs)
    for a in plan:
        job = problem.operations[a.op].job
        completion[job] = max(completion[job], a.end)
    lateness = [
        job.weight * max(0, completion[j] - job.due) if job.due is not None else 0
        for j, job in enumerate(problem.jobs)
    ]
    frozen = problem.frozen_by_op()
    return [
        (a.op, lateness[problem.operations[a.op].job])
        for a in plan
        if lateness[problem.operations[a.op].job] > 0 and a.op not in frozen
    ]


def improve(
    problem: Problem,
    incumbent: Sequence[Assignment],
    objective: Objective,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    previous: Mapping[int, Assignment] | None = None,
    stability_weight: int = 0,
    initial_size: int = 20,
    stats: LnsStats | None = None,
    windowed: bool | None = None,
    sub_time: float = 0.5,
) -> list[Assignment]:
    """The best plan found from `incumbent` within `time_limit` seconds. `windowed`
    chooses small window sub-problems (default: above LARGE_OPS operations) instead of
    the whole model with the kept operations' machines and order fixed."""
    began = time.perf_counter()
    rng = random.Random(seed)
    scale = safe_horizon(problem, previous) + 1
    best = list(incumbent)
    best_value = score(problem, best, objective, scale, previous, stability_weight)
    if windowed is None:
        windowed = problem.n_ops > LARGE_OPS or circuit_size(problem) > LARGE_ARCS
    large = windowed
    # one size for every kind: measured on ta21 (3 seeds, 40 s), a size per kind kept
    # the windows small and ended 1.6 % higher; large neighbourhoods pay on job shops
    size = min(initial_size, problem.n_ops)
    sub_limit = sub_time
    stats = stats if stats is not None else LnsStats()
    stats.history = [(0.0, best_value)]
    overhead = 0.0  # model building time of the last iteration: keep the time limit
    while True:
        left = time_limit - (time.perf_counter() - began) - overhead
        if left < 0.05 or problem.n_ops == 0:
            break
        iteration_began = time.perf_counter()
        if large:
            tardy = objective is not Objective.MAKESPAN and stats.iterations % 2 == 1
            kind = "late_window" if tardy else "window"
        else:
            kinds: tuple[str, ...] = NEIGHBOURHOODS
            if objective is Objective.MAKESPAN and not (previous and stability_weight):
                kinds = MAKESPAN_NEIGHBOURHOODS
            kind = kinds[stats.iterations % len(kinds)]
        stats.iterations += 1
        relaxed = choose_neighbourhood(problem, best, size, kind, rng)
        if not relaxed:
            continue
        context = _Context(objective, scale, previous, stability_weight, workers, seed)
        solve_sub = _solve_window if large else _solve_ordered
        plan, name, wall = solve_sub(problem, best, relaxed, context, min(sub_limit, left))
        overhead = max(0.0, time.perf_counter() - iteration_began - wall)
        if plan is not None:
            value = score(problem, plan, objective, scale, previous, stability_weight)
            if value < best_value:
                stats.improvements += 1
                stats.history.append((time.perf_counter() - began, value))
            if value <= best_value:
                best, best_value = plan, value
        if name == "OPTIMAL" and wall < 0.5 * sub_limit:
            size = min(problem.n_ops, int(size * 1.15) + 1)
        elif name != "OPTIMAL":
            size = max(8, int(size * 0.9))
            if not large:
                sub_limit = min(MAX_SUB_SECONDS, sub_limit * 1.1)
    return best


@dataclass(frozen=True)
class _Context:
    objective: Objective
    scale: int
    previous: Mapping[int, Assignment] | None
    stability_weight: int
    workers: int
    seed: int


def _solve_ordered(
    problem: Problem,
    best: list[Assignment],
    relaxed: set[int],
    ctx: _Context,
    limit: float,
) -> tuple[list[Assignment] | None, str, float]:
    """Relaxed operations free, the others keep machine and order (times free)."""
    built = relax_subproblem(problem, best, relaxed)
    if built is None:
        return None, "SKIPPED", 0.0
    sub, chains = built
    horizon = ctx.scale - 1
    if ctx.objective is Objective.MAKESPAN and not (ctx.previous and ctx.stability_weight):
        horizon = makespan_of(best)
    spec = ModelSpec(ctx.objective, horizon, ctx.previous, ctx.stability_weight, chains=chains)
    try:
        model, v = build_model(sub, spec, best)
    except InfeasibleModel:
        return None, "INFEASIBLE", 0.0
    solver = solver_parameters(limit, ctx.workers, ctx.seed + len(relaxed), light=sub.has_setups)
    code = solver.solve(model)
    name = solver.status_name(code)
    plan = extract(sub, solver, v) if name in ("OPTIMAL", "FEASIBLE") else None
    return plan, name, solver.wall_time


def _solve_window(
    problem: Problem,
    best: list[Assignment],
    relaxed: set[int],
    ctx: _Context,
    limit: float,
) -> tuple[list[Assignment] | None, str, float]:
    """Relaxed operations free inside a small problem; everything else fixed in time."""
    try:
        sub, order, chains = window_subproblem(problem, best, relaxed)
    except ValueError:
        return None, "SKIPPED", 0.0
    by_op = {a.op: a for a in best}
    hint = [
        Assignment(k, by_op[op].machine, by_op[op].start, by_op[op].end)
        for k, op in enumerate(order)
    ]
    previous = None
    if ctx.previous and ctx.stability_weight:
        previous = {
            k: replace(ctx.previous[op], op=k)
            for k, op in enumerate(order)
            if op in relaxed and op in ctx.previous
        }
    horizon = safe_horizon(sub, previous)
    if ctx.objective is Objective.MAKESPAN and not previous:
        horizon = min(horizon, makespan_of(best))
    spec = ModelSpec(ctx.objective, horizon, previous, ctx.stability_weight, chains=chains)
    try:
        model, v = build_model(sub, spec, hint)
    except InfeasibleModel:
        return None, "INFEASIBLE", 0.0
    solver = solver_parameters(limit, ctx.workers, ctx.seed + len(relaxed), light=sub.has_setups)
    code = solver.solve(model)
    name = solver.status_name(code)
    if name not in ("OPTIMAL", "FEASIBLE"):
        return None, name, solver.wall_time
    moved = {order[a.op]: replace(a, op=order[a.op]) for a in extract(sub, solver, v)}
    return [moved.get(a.op, a) for a in best], name, solver.wall_time


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
