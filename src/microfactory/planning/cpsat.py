"""The CP-SAT model: variables, one function per constraint family, objective, hints.

Modelling choices (each one is what makes this model faster than the textbook one):
* time bounds per operation from a forward/backward pass over the precedence DAG, with the
  horizon taken from the best heuristic plan when minimising makespan;
* a master start/end per operation and one optional fixed-size interval per mode, so
  precedences propagate on one variable whatever the machine;
* calendars twice: fixed intervals in each machine's no-overlap, and start domains with
  the forbidden starts removed (exact, propagates before search);
* setups as a circuit per machine over its candidate operations, with arcs pruned by the
  time bounds; machines without setups only get a no-overlap;
* redundant constraints: the makespan is at least each operation's end plus its tail, and
  for flexible shops (operations average at least `CUMULATIVE_MIN_MODES` machines) a
  cumulative over all operations with capacity = number of machines;
* operators as secondary resources: per operation that needs one, a choice literal per
  qualified operator (exactly one), an optional interval per busy segment and operator, and
  per operator a no-overlap (a cumulative of capacity 100 where loads are shared) with
  the off-shift windows as fixed intervals;
* a complete hint from the dispatching heuristics.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from microfactory.planning.heuristics import tails
from microfactory.planning.model import (
    Assignment,
    Attendance,
    Crew,
    Objective,
    Problem,
    Window,
    topological_order,
)
from microfactory.planning.result import (
    ScheduleResult,
    Status,
    makespan_of,
    weighted_tardiness_of,
)


@dataclass
class ModelVars:
    start: list[cp_model.IntVar]
    end: list[cp_model.IntVar]
    presence: list[dict[int, cp_model.IntVar | bool]]
    intervals: list[dict[int, cp_model.IntervalVar]]
    blocked: list[list[cp_model.IntervalVar]]
    makespan: cp_model.IntVar
    horizon: int
    est: list[int]
    lst: list[int]
    objective_terms: dict[str, cp_model.LinearExpr] = field(default_factory=dict)
    arcs: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    late: dict[int, cp_model.IntVar] = field(default_factory=dict)
    moved: dict[int, cp_model.IntVar] = field(default_factory=dict)
    attends: list[dict[int, cp_model.IntVar | bool]] = field(default_factory=list)


@dataclass(frozen=True)
class ModelSpec:
    objective: Objective = Objective.MAKESPAN
    horizon: int = 0
    previous: Mapping[int, Assignment] | None = None
    stability_weight: int = 0
    makespan_upper: int | None = None
    chains: Mapping[int, Sequence[int]] | None = None


class InfeasibleModel(Exception):
    """Raised while building when the bounds already prove infeasibility."""


# -- bounds ----------------------------------------------------------------------------------


def safe_horizon(problem: Problem, previous: Mapping[int, Assignment] | None = None) -> int:
    """An upper bound on the makespan of some feasible semi-active plan, if any exists:
    latest release + all longest durations + all windows + the largest setup per op."""
    releases = max((problem.release_of(i) for i in range(problem.n_ops)), default=0)
    frozen_end = max(
        (f.start + (problem.operations[f.op].duration_on(f.machine) or 0) for f in problem.frozen),
        default=0,
    )
    work = sum(max((m.duration for m in op.modes), default=0) for op in problem.operations)
    windows = sum(w.end - w.start for mach in problem.machines for w in mach.unavailable)
    last_window = max(
        [w.end for mach in problem.machines for w in mach.unavailable]
        + [w.end for person in problem.operators for w in person.unavailable],
        default=0,
    )
    setup = max((v for mach in problem.machines for v in mach.setups.values()), default=0)
    horizon = max(releases, frozen_end, last_window) + work + windows + setup * problem.n_ops
    if previous:
        horizon = max(horizon, max(a.end for a in previous.values()))
    return max(1, horizon)


def circuit_size(problem: Problem) -> int:
    """Arcs the setup circuits would need before pruning: sum over machines with setups of
    (operations that may run there) squared."""
    counts = [0] * len(problem.machines)
    for op in problem.operations:
        for mode in op.modes:
            counts[mode.machine] += 1
    return sum(c * c for c, m in zip(counts, problem.machines, strict=True) if m.has_setups)


def time_bounds(problem: Problem, horizon: int) -> tuple[list[int], list[int]]:
    """Earliest and latest start per operation (min durations, frozen ops fixed)."""
    order = topological_order(problem.n_ops, problem.precedences) or []
    preds, succ = problem.predecessors(), problem.successors()
    frozen = problem.frozen_by_op()
    dmin = [op.min_duration for op in problem.operations]
    est = [problem.release_of(i) for i in range(problem.n_ops)]
    lst = [
        min(horizon, op.deadline if op.deadline is not None else horizon) - dmin[i]
        for i, op in enumerate(problem.operations)
    ]
    for i in order:
        est[i] = max([est[i]] + [est[p] + dmin[p] for p in preds[i]])
        if i in frozen:
            est[i] = frozen[i].start
    for i in reversed(order):
        lst[i] = min([lst[i]] + [lst[s] - dmin[i] for s in succ[i]])
        if i in frozen:
            lst[i] = frozen[i].start
    for i in range(problem.n_ops):
        if est[i] > lst[i]:
            raise InfeasibleModel(
                f"operation {i} cannot start between {est[i]} (release and predecessors) "
                f"and {lst[i]} (horizon, frozen successors)"
            )
    return est, lst


# -- variables -------------------------------------------------------------------------------


def add_variables(model: cp_model.CpModel, problem: Problem, horizon: int) -> ModelVars:
    est, lst = time_bounds(problem, horizon)
    starts, ends, presence, intervals = [], [], [], []
    for i, op in enumerate(problem.operations):
        dmin = op.min_duration
        dmax = max(m.duration for m in op.modes)
        start = model.new_int_var(est[i], lst[i], f"s{i}")
        latest_end = lst[i] + dmax if op.deadline is None else min(lst[i] + dmax, op.deadline)
        end = model.new_int_var(est[i] + dmin, latest_end, f"e{i}")
        pres: dict[int, cp_model.IntVar | bool] = {}
        ivs: dict[int, cp_model.IntervalVar] = {}
        if len(op.modes) == 1:
            mode = op.modes[0]
            pres[mode.machine] = True
            ivs[mode.machine] = model.new_interval_var(start, mode.duration, end, f"i{i}")
        else:
            for mode in op.modes:
                lit = model.new_bool_var(f"p{i}_{mode.machine}")
                pres[mode.machine] = lit
                ivs[mode.machine] = model.new_optional_interval_var(
                    start, mode.duration, end, lit, f"i{i}_{mode.machine}"
                )
        starts.append(start)
        ends.append(end)
        presence.append(pres)
        intervals.append(ivs)
    makespan = model.new_int_var(0, horizon, "makespan")
    return ModelVars(
        start=starts,
        end=ends,
        presence=presence,
        intervals=intervals,
        blocked=[[] for _ in problem.machines],
        makespan=makespan,
        horizon=horizon,
        est=est,
        lst=lst,
    )


# -- constraint families ----------------------------------------------------------------------


def add_mode_choice(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    """Exactly one mode per operation."""
    for pres in v.presence:
        literals = [lit for lit in pres.values() if not isinstance(lit, bool)]
        if len(literals) > 1:
            model.add_exactly_one(literals)


def add_precedences(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    for before, after in problem.precedences:
        model.add(v.start[after] >= v.end[before])


def add_calendars(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    """Unavailability: fixed intervals for the no-overlap (only where an operation of the
    machine could run), and forbidden starts removed from the start domains."""
    reach: dict[int, tuple[int, int]] = {}
    for i, op in enumerate(problem.operations):
        for mode in op.modes:
            lo, hi = reach.get(mode.machine, (v.est[i], v.lst[i] + mode.duration))
            reach[mode.machine] = (min(lo, v.est[i]), max(hi, v.lst[i] + mode.duration))
    for m, machine in enumerate(problem.machines):
        lo, hi = reach.get(m, (0, -1))
        for k, w in enumerate(machine.unavailable):
            if w.end > lo and w.start < hi:
                v.blocked[m].append(
                    model.new_fixed_size_interval_var(w.start, w.end - w.start, f"w{m}_{k}")
                )
    window_starts = [[w.start for w in machine.unavailable] for machine in problem.machines]
    for i, op in enumerate(problem.operations):
        for mode in op.modes:
            windows = problem.machines[mode.machine].unavailable
            if not windows or mode.duration == 0:
                continue
            # windows starting before est - max window length cannot matter: skip them
            first = max(0, bisect.bisect_left(window_starts[mode.machine], v.est[i]) - 1)
            while first > 0 and windows[first - 1].end > v.est[i]:
                first -= 1
            allowed = _allowed_starts(v.est[i], v.lst[i], mode.duration, windows[first:])
            lit = v.presence[i][mode.machine]
            if isinstance(lit, bool):
                model.add_linear_expression_in_domain(v.start[i], allowed)
            else:
                model.add_linear_expression_in_domain(v.start[i], allowed).only_enforce_if(lit)


def _allowed_starts(lo: int, hi: int, duration: int, windows: Sequence[Window]) -> cp_model.Domain:
    pieces: list[list[int]] = []
    cursor = lo
    for w in windows:
        bad_lo, bad_hi = w.start - duration + 1, w.end - 1
        if bad_hi < cursor:
            continue
        if bad_lo > hi:
            break
        if bad_lo > cursor:
            pieces.append([cursor, bad_lo - 1])
        cursor = max(cursor, bad_hi + 1)
    if cursor <= hi:
        pieces.append([cursor, hi])
    return cp_model.Domain.FromIntervals(pieces)


def add_machine_capacity(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    """No two operations (nor an operation and a window) overlap on a machine."""
    per_machine: list[list[cp_model.IntervalVar]] = [list(b) for b in v.blocked]
    for ivs in v.intervals:
        for m, iv in ivs.items():
            per_machine[m].append(iv)
    for items in per_machine:
        if len(items) > 1:
            model.add_no_overlap(items)


def add_setups(
    model: cp_model.CpModel,
    problem: Problem,
    v: ModelVars,
    chains: Mapping[int, Sequence[int]] | None = None,
) -> None:
    """Sequence-dependent setups: one circuit per machine that has any. `chains` (from
    LNS) gives operations whose order is kept: between two of them only the arc to the
    next kept one can be used, which keeps the circuit small."""
    for m, machine in enumerate(problem.machines):
        if not machine.has_setups:
            continue
        chain = list((chains or {}).get(m, ()))
        next_kept = dict(itertools.pairwise(chain))
        kept = set(chain)
        nodes = [i for i, pres in enumerate(v.presence) if m in pres]
        if not nodes:
            continue
        arcs: list[tuple[int, int, cp_model.LiteralT]] = []
        all_fixed = True
        for k, i in enumerate(nodes, start=1):
            lit = v.presence[i][m]
            if isinstance(lit, bool):
                lit_var = model.new_constant(1)
            else:
                all_fixed = False
                lit_var = lit
                arcs.append((k, k, lit_var.Not()))
            if i not in kept or i == chain[0]:  # a kept op after another is never first
                v.arcs[(m, -1, i)] = model.new_bool_var(f"a{m}_0_{i}")
                arcs.append((0, k, v.arcs[(m, -1, i)]))
            if i not in kept or i == chain[-1]:  # ... nor last if one follows it
                v.arcs[(m, i, -1)] = model.new_bool_var(f"a{m}_{i}_0")
                arcs.append((k, 0, v.arcs[(m, i, -1)]))
        if not all_fixed:
            v.arcs[(m, -1, -1)] = model.new_bool_var(f"a{m}_empty")
            arcs.append((0, 0, v.arcs[(m, -1, -1)]))
        for a, i in enumerate(nodes, start=1):
            dur_i = problem.operations[i].duration_on(m) or 0
            fam_i = problem.operations[i].family
            for b, j in enumerate(nodes, start=1):
                if i == j or (i in kept and j in kept and next_kept.get(i) != j):
                    continue
                gap = machine.setup(fam_i, problem.operations[j].family)
                if v.est[i] + dur_i + gap > v.lst[j]:
                    continue
                arc = model.new_bool_var(f"a{m}_{i}_{j}")
                v.arcs[(m, i, j)] = arc
                arcs.append((a, b, arc))
                model.add(v.start[j] >= v.end[i] + gap).only_enforce_if(arc)
        model.add_circuit(arcs)


def add_crew(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    """Operators (see the module docstring). Segments are placed from the master start and
    end: setup from the start, unload back from the end. Where some mode's run is too short
    for separate setup and unload, the operator attends the whole run on every mode (a
    stricter rule than `Crew.segments`, which the checker applies per mode); a frozen
    operation counts only the mode of its machine."""
    v.attends = [{} for _ in problem.operations]
    if not problem.has_crew:
        return
    per_person: list[list[tuple[cp_model.IntervalVar, int]]] = [[] for _ in problem.operators]
    frozen = problem.frozen_by_op()
    for i, op in enumerate(problem.operations):
        crew = op.crew
        if crew is None:
            continue
        people = [k for k in range(len(problem.operators)) if problem.qualified(i, k)]
        if not people:
            raise InfeasibleModel(f"operation {i} needs skill {crew.skill!r} and nobody has it")
        attends: dict[int, cp_model.IntVar | bool] = {}
        if len(people) == 1:
            attends[people[0]] = True
        else:
            attends = {k: model.new_bool_var(f"o{i}_{k}") for k in people}
            model.add_exactly_one([lit for lit in attends.values() if not isinstance(lit, bool)])
        v.attends[i] = attends
        # a frozen operation runs on its machine: that mode's segments, not the stricter
        # rule for every mode (which could make a frozen plan the checker accepts infeasible)
        modes = [m for m in op.modes if i not in frozen or m.machine == frozen[i].machine]
        pieces = _crew_pieces(model, v, i, crew, {m.duration for m in modes or op.modes})
        for k, lit in attends.items():
            for n, (begin, size, finish) in enumerate(pieces):
                if isinstance(lit, bool):
                    iv = model.new_interval_var(begin, size, finish, f"c{i}_{k}_{n}")
                else:
                    iv = model.new_optional_interval_var(begin, size, finish, lit, f"c{i}_{k}_{n}")
                per_person[k].append((iv, crew.load))
    for k, person in enumerate(problem.operators):
        items = per_person[k]
        if not items:
            continue
        lo = min(v.est[i] for i in range(problem.n_ops)) if problem.n_ops else 0
        blocked = [
            (model.new_fixed_size_interval_var(w.start, w.end - w.start, f"off{k}_{n}"), 100)
            for n, w in enumerate(person.unavailable)
            if w.end > lo and w.start < v.horizon
        ]
        everything = items + blocked
        if all(load == 100 for _, load in items):
            model.add_no_overlap([iv for iv, _ in everything])
        else:
            model.add_cumulative([iv for iv, _ in everything], [d for _, d in everything], 100)


def _crew_pieces(
    model: cp_model.CpModel, v: ModelVars, i: int, crew: Crew, durations: set[int]
) -> list[tuple[cp_model.LinearExprT, cp_model.LinearExprT, cp_model.LinearExprT]]:
    """(start, size, end) of each busy segment of operation i's operator."""
    positive = {d for d in durations if d > 0}
    if not positive:
        return []
    split = crew.attendance is Attendance.SETUP and all(
        crew.setup + crew.unload < d for d in positive
    )
    if split:
        pieces: list[tuple[cp_model.LinearExprT, cp_model.LinearExprT, cp_model.LinearExprT]]
        pieces = []
        if crew.setup > 0:
            pieces.append((v.start[i], crew.setup, v.start[i] + crew.setup))
        if crew.unload > 0:
            pieces.append((v.end[i] - crew.unload, crew.unload, v.end[i]))
        return pieces
    if len(durations) == 1:
        return [(v.start[i], next(iter(durations)), v.end[i])]
    length = model.new_int_var(min(durations), max(durations), f"len{i}")
    model.add(v.end[i] == v.start[i] + length)
    return [(v.start[i], length, v.end[i])]


def add_frozen(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    for item in problem.frozen:
        model.add(v.start[item.op] == item.start)
        lit = v.presence[item.op][item.machine]
        if not isinstance(lit, bool):
            model.add(lit == 1)
        who = v.attends[item.op].get(item.operator) if item.operator is not None else None
        if who is not None and not isinstance(who, bool):
            model.add(who == 1)


# Measured on Hurink's edata la26 and la31 (1.13-1.21 machines per operation), the model
# alone, 60 s, 2 workers, no hint: with the cumulative 1,143 and 1,552, without it 1,127 /
# 1,110 and 1,549 / 1,565 (seeds 0 / 1), better lower bounds too (la26: 1,095-1,101 against
# 1,089). Brandimarte's shops (1.43-4.1 machines per operation) keep it as before.
CUMULATIVE_MIN_MODES = 1.3


def cumulative_helps(problem: Problem) -> bool:
    """Whether the redundant cumulative over all operations goes into the model: a
    flexible shop with more than one machine whose operations average at least
    `CUMULATIVE_MIN_MODES` machines (nearly classic shops propagate worse with it)."""
    if len(problem.machines) < 2 or problem.n_ops == 0:
        return False
    modes = sum(len(op.modes) for op in problem.operations)
    return modes >= CUMULATIVE_MIN_MODES * problem.n_ops


def add_redundant(model: cp_model.CpModel, problem: Problem, v: ModelVars) -> None:
    """Makespan >= end + remaining tail; a cumulative over all operations for shops whose
    operations average at least `CUMULATIVE_MIN_MODES` machines."""
    tail = tails(problem)
    for i, op in enumerate(problem.operations):
        model.add(v.makespan >= v.end[i] + tail[i] - op.min_duration)
    if cumulative_helps(problem):
        demands, ivs = [], []
        for i, op in enumerate(problem.operations):
            for mode in op.modes:
                ivs.append(v.intervals[i][mode.machine])
                demands.append(1)
        model.add_cumulative(ivs, demands, len(problem.machines))


# -- objective ---------------------------------------------------------------------------------


def add_objective(model: cp_model.CpModel, problem: Problem, v: ModelVars, spec: ModelSpec) -> None:
    if spec.makespan_upper is not None:
        model.add(v.makespan <= spec.makespan_upper)
    terms: list[cp_model.LinearExprT] = []
    if spec.objective is Objective.MAKESPAN:
        terms.append(v.makespan)
    else:
        tardiness = _weighted_tardiness(model, problem, v)
        v.objective_terms["tardiness"] = tardiness
        if spec.objective is Objective.WEIGHTED_TARDINESS:
            terms.append(tardiness)
        else:
            terms.append(tardiness * (v.horizon + 1) + v.makespan)
    if spec.previous and spec.stability_weight > 0:
        moved = _moved_count(model, problem, v, spec.previous)
        v.objective_terms["moved"] = moved
        terms.append(spec.stability_weight * moved)
    model.minimize(sum(terms))


def _weighted_tardiness(
    model: cp_model.CpModel, problem: Problem, v: ModelVars
) -> cp_model.LinearExpr:
    succ = problem.successors()
    late_vars: list[cp_model.IntVar] = []
    weights: list[int] = []
    for j, job in enumerate(problem.jobs):
        if job.due is None or job.weight == 0:
            continue
        ops = [i for i, op in enumerate(problem.operations) if op.job == j]
        sinks = [i for i in ops if not any(problem.operations[s].job == j for s in succ[i])]
        if not sinks:
            continue
        late = model.new_int_var(0, v.horizon, f"t{j}")
        v.late[j] = late
        for i in sinks:
            model.add(late >= v.end[i] - job.due)
        late_vars.append(late)
        weights.append(job.weight)
    return cp_model.LinearExpr.weighted_sum(late_vars, weights)


def _moved_count(
    model: cp_model.CpModel,
    problem: Problem,
    v: ModelVars,
    previous: Mapping[int, Assignment],
) -> cp_model.LinearExpr:
    """Operations whose machine or start differ from the previous plan."""
    moved: list[cp_model.IntVar] = []
    for i, before in previous.items():
        if not 0 <= i < problem.n_ops:
            continue
        flag = model.new_bool_var(f"moved{i}")
        v.moved[i] = flag
        lit = v.presence[i].get(before.machine)
        if lit is None:
            model.add(flag == 1)
        else:
            model.add(v.start[i] == before.start).only_enforce_if(flag.Not())
            if not isinstance(lit, bool):
                model.add(lit == 1).only_enforce_if(flag.Not())
        moved.append(flag)
    return cp_model.LinearExpr.sum(moved)


def add_hint(
    model: cp_model.CpModel,
    problem: Problem,
    v: ModelVars,
    plan: Sequence[Assignment],
    previous: Mapping[int, Assignment] | None = None,
) -> None:
    """A complete solution hint: start, end and mode of every operation, the circuit arcs,
    the lateness and moved flags, so CP-SAT starts from a full solution."""
    for a in plan:
        model.add_hint(v.start[a.op], a.start)
        model.add_hint(v.end[a.op], a.end)
        for m, lit in v.presence[a.op].items():
            if not isinstance(lit, bool):
                model.add_hint(lit, int(m == a.machine))
        if v.attends and a.operator is not None:
            for k, who in v.attends[a.op].items():
                if not isinstance(who, bool):
                    model.add_hint(who, int(k == a.operator))
    model.add_hint(v.makespan, makespan_of(plan))
    if v.arcs:
        used: set[tuple[int, int, int]] = set()
        for m in {key[0] for key in v.arcs}:
            order = [a.op for a in sorted(plan, key=lambda a: (a.start, a.end)) if a.machine == m]
            chain = [-1, *order, -1] if order else [-1, -1]
            used.update((m, x, y) for x, y in itertools.pairwise(chain))
        for key, arc in v.arcs.items():
            model.add_hint(arc, int(key in used))
    completion = [0] * len(problem.jobs)
    for a in plan:
        job = problem.operations[a.op].job
        completion[job] = max(completion[job], a.end)
    for j, late in v.late.items():
        due = problem.jobs[j].due or 0
        model.add_hint(late, max(0, completion[j] - due))
    if previous:
        by_op = {a.op: a for a in plan}
        for i, flag in v.moved.items():
            now, before = by_op.get(i), previous[i]
            same = now is not None and (now.machine, now.start) == (before.machine, before.start)
            model.add_hint(flag, int(not same))


def build_model(
    problem: Problem, spec: ModelSpec, hint: Sequence[Assignment] | None = None
) -> tuple[cp_model.CpModel, ModelVars]:
    model = cp_model.CpModel()
    v = add_variables(model, problem, spec.horizon)
    add_mode_choice(model, problem, v)
    add_precedences(model, problem, v)
    add_calendars(model, problem, v)
    add_machine_capacity(model, problem, v)
    add_setups(model, problem, v, spec.chains)
    add_crew(model, problem, v)
    add_frozen(model, problem, v)
    add_redundant(model, problem, v)
    add_objective(model, problem, v, spec)
    if hint:
        add_hint(model, problem, v, hint, spec.previous)
    return model, v


# -- solving -----------------------------------------------------------------------------------


def extract(problem: Problem, solver: cp_model.CpSolver, v: ModelVars) -> list[Assignment]:
    plan = []
    for i, op in enumerate(problem.operations):
        start = solver.value(v.start[i])
        who = None
        for k, lit in (v.attends[i] if v.attends else {}).items():
            if isinstance(lit, bool) or solver.boolean_value(lit):
                who = k
                break
        for m, lit in v.presence[i].items():
            if isinstance(lit, bool) or solver.boolean_value(lit):
                duration = op.duration_on(m) or 0
                plan.append(Assignment(i, m, start, start + duration, who))
                break
    return plan


def solver_parameters(
    time_limit: float, workers: int, seed: int = 0, log: bool = False, *, light: bool = False
) -> cp_model.CpSolver:
    """`light`: no probing in presolve. Measured on a 300-operation shop with setups:
    probing the circuits took the whole 10 s, so not even the hint came back."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    solver.parameters.log_search_progress = log
    if light:
        solver.parameters.cp_model_probing_level = 0
    return solver


def solve_cpsat(
    problem: Problem,
    objective: Objective = Objective.MAKESPAN,
    time_limit: float = 10.0,
    workers: int = 2,
    hint: Sequence[Assignment] | None = None,
    previous: Mapping[int, Assignment] | None = None,
    stability_weight: int = 0,
    seed: int = 0,
    log: bool = False,
) -> ScheduleResult:
    """Solve the monolithic model. With a hint and the makespan objective (no stability
    term) the horizon is the hint's makespan, which keeps the domains tight."""
    began = time.perf_counter()
    horizon = safe_horizon(problem, previous)
    if hint and objective is Objective.MAKESPAN and not (previous and stability_weight):
        horizon = min(horizon, makespan_of(hint))
    spec = ModelSpec(objective, horizon, previous, stability_weight)
    try:
        model, v = build_model(problem, spec, hint)
    except InfeasibleModel as exc:
        return _no_plan(Status.INFEASIBLE, str(exc), began)
    solver = solver_parameters(
        time_limit - (time.perf_counter() - began), workers, seed, log, light=problem.has_setups
    )
    code = solver.solve(model)
    seconds = time.perf_counter() - began
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        plan = extract(problem, solver, v)
        return ScheduleResult(
            status=Status.OPTIMAL if code == cp_model.OPTIMAL else Status.FEASIBLE,
            objective=round(solver.objective_value),
            bound=round(solver.best_objective_bound),
            seconds=seconds,
            assignments=tuple(plan),
            solver="cpsat",
            makespan=makespan_of(plan),
            weighted_tardiness=weighted_tardiness_of(problem, plan),
        )
    if code == cp_model.INFEASIBLE:
        return _no_plan(Status.INFEASIBLE, "CP-SAT proved that no plan exists", began)
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.validate()}")
    return _no_plan(Status.TIMEOUT_NO_SOLUTION, "no plan found within the time limit", began)


def _no_plan(status: Status, reason: str, began: float) -> ScheduleResult:
    return ScheduleResult(
        status=status,
        objective=None,
        bound=None,
        seconds=time.perf_counter() - began,
        reason=reason,
        solver="cpsat",
    )
