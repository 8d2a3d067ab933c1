"""The one solver interface: `solve(problem, objective, time_limit, workers, ...)`.

Strategy (anytime; the best plan within the time limit is returned):
1. every dispatching rule, keep the best plan (instant; a plan even if CP-SAT finds none);
1b. the weighted tardiness of a plain job shop (one machine per operation, no setups,
   calendars, frozen operations or operators; `twt_search.applies`): multi-start
   tardy-tree tabu search (`twt_search`, one thread per worker; starts from every
   dispatching rule's plan and random ones) for `twt_search_share` of the time, whose
   best plan then hints the monolithic model for the rest (a plan with no tardiness is
   returned at once as optimal);
1c. the makespan of a plain job shop of at least `makespan_search_min_ops` operations
   (`makespan_search.applies`, `_makespan_search_share`): multi-start N7 tabu search
   (`makespan_search`, one thread per worker, from the best dispatching plan) for
   `makespan_search_share` of the time,
   whose best plan then hints the monolithic model for the rest (a plan at the static
   lower bound is returned at once as optimal); a nearly classic flexible shop of
   `flexible_search_min_ops` to `makespan_search_min_ops` operations gets the search
   after the model instead, for the last `flexible_small_search_share` of the time, from
   the model's plan and the best dispatching plan (`_makespan_last`);
2. the monolithic CP-SAT model hinted with it (up to 1,200 operations and 10,000
   setup-circuit arcs, none above, where the model is too slow to build and presolve): the
   whole time for due-date objectives and classic job shops, a quarter of it (at least
   5 s) for the makespan of a flexible shop;
3. on instances too large for the model, with a due-date objective and no stability term:
   job-sequence local search (`sequence`) for SEQUENCE_SHARE of the time, which re-times
   every job after a move and so fixes the queues that window LNS cannot reach, then
   machine-order search (`reorder`) for REORDER_SHARE, which moves single operations of
   late jobs ahead in a machine's queue or onto another machine;
4. large-neighbourhood search from the best plan for the rest of the time;
5. the best bound proven by the monolithic model is reported; a plan that reaches it is
   optimal.

Operators (crew needs): the dispatching rules, the repair, the monolithic model and LNS
know them; the job-sequence and machine-order searches do not, so their plans are staffed
(`crew.staff`: re-timed in their order with a qualified operator on shift) and checked
before they are taken; tabu search is left out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from microfactory.planning import makespan_search
from microfactory.planning.bounds import static_lower_bound
from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import circuit_size, safe_horizon, solve_cpsat
from microfactory.planning.crew import staff
from microfactory.planning.heuristics import DYNAMIC_RULES, RULES, dispatch, repair, rush_first
from microfactory.planning.lns import LnsStats, improve, score
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.reorder import search as reorder_search
from microfactory.planning.result import (
    ScheduleResult,
    Status,
    makespan_of,
    weighted_tardiness_of,
)
from microfactory.planning.rounds import WorkerFailures
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings
from microfactory.planning.sequence import SequenceStats, frozen_predecessors_frozen
from microfactory.planning.sequence import search as sequence_search
from microfactory.planning.tabu import Background as TabuBackground
from microfactory.planning.tabu import applies as tabu_applies
from microfactory.planning.tabu import search as tabu_search
from microfactory.planning.twt_search import applies as twt_applies
from microfactory.planning.twt_search import search as twt_search
from microfactory.planning.twt_search import warm as twt_warm

# The time shares and size thresholds are `SearchSettings` (search_settings.py), passed
# into `solve`. LNS stops min(0.1 s, 2 % of the limit) early: building its last model and
# sorting the plan took up to 0.02 s past a 5 s limit on the 2,000-operation factory.


def best_dispatch(
    problem: Problem,
    objective: Objective,
    scale: int,
    previous: Mapping[int, Assignment] | None = None,
    stability_weight: int = 0,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> tuple[list[Assignment] | None, str]:
    """The best feasible plan among the dispatching rules (and, with a previous plan, its
    repair), and the rule's name. Rush jobs are placed first (`rush_first`)."""
    problem = rush_first(problem)
    candidates: list[tuple[str, list[Assignment] | None]] = []
    large = settings.large_ops
    rules = [r for r in RULES if problem.n_ops <= large or r not in DYNAMIC_RULES]
    if previous:
        reserved = repair(problem, previous, reserve=True)
        candidates.append(("repair-reserved", reserved))
        candidates.append(("repair", repair(problem, previous, reserve=False)))
        if reserved is not None and stability_weight > 0 and problem.n_ops > large:
            rules = []  # plans from scratch move everything: not worth it on a large instance
    candidates.extend((rule, dispatch(problem, rule)) for rule in rules)
    best: list[Assignment] | None = None
    best_key: tuple[int, int] | None = None
    best_rule = ""
    for rule, plan in candidates:
        if plan is None or check_plan(problem, plan):
            continue
        value = score(problem, plan, objective, scale, previous, stability_weight)
        key = (value, makespan_of(plan))
        if best_key is None or key < best_key:
            best, best_key, best_rule = plan, key, rule
    return best, best_rule


def solve(
    problem: Problem,
    objective: Objective = Objective.MAKESPAN,
    time_limit: float = 10.0,
    workers: int = 2,
    *,
    previous: Mapping[int, Assignment] | None = None,
    stability_weight: int = 0,
    seed: int = 0,
    monolithic_share: float | None = None,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> ScheduleResult:
    """Solve `problem` for `objective` within `time_limit` seconds on `workers` threads.

    `previous` (op index -> assignment of the previous plan) with `stability_weight` > 0
    adds `stability_weight` per operation whose machine or start changes.
    `monolithic_share` overrides the share of time given to the monolithic model.
    Rush jobs are placed ahead of every movable operation first and kept there
    (`rush_first`); pins are part of the problem (modes and frozen operations).
    `settings` holds the other time shares and size thresholds (the measured defaults).
    """
    twt_job_shop = twt_applies(problem, objective) and not (previous and stability_weight)
    if twt_job_shop:
        twt_warm()  # load the compiled kernels before the clock starts (see kernels.py)
    search_share = _makespan_search_share(problem, settings)
    makespan_job_shop = (
        makespan_search.applies(problem, objective)
        and search_share > 0
        and not (previous and stability_weight)
    )
    if makespan_job_shop:
        makespan_search.warm()
    began = time.perf_counter()
    missing = problem.ops_without_modes()
    if missing:
        name = problem.operations[missing[0]].name or str(missing[0])
        return ScheduleResult(
            status=Status.INFEASIBLE,
            objective=None,
            bound=None,
            seconds=time.perf_counter() - began,
            reason=f"operation {name} has no machine that can run it",
            solver="solve",
        )
    problem = rush_first(problem)
    unstaffed = problem.ops_without_crew()
    if unstaffed:
        operation = problem.operations[unstaffed[0]]
        skill = operation.crew.skill if operation.crew else ""
        return ScheduleResult(
            status=Status.INFEASIBLE,
            objective=None,
            bound=None,
            seconds=time.perf_counter() - began,
            reason=f"operation {operation.name or unstaffed[0]} needs skill {skill!r} "
            "and no operator has it",
            solver="solve",
        )
    scale = safe_horizon(problem, previous) + 1
    hint, rule = best_dispatch(problem, objective, scale, previous, stability_weight, settings)
    share = monolithic_share
    if share is None:
        stability = bool(previous and stability_weight)
        share = _default_share(problem, objective, time_limit, stability, settings)
    if hint is None:
        share = 1.0  # no heuristic plan (frozen ops in the way): the model must find one
    incumbent = list(hint) if hint else None
    bound: int | None = None
    status = Status.FEASIBLE
    reason = ""
    solver_name = f"dispatch-{rule}" if hint else ""
    history: tuple[tuple[float, int], ...] = ()
    # rush_first may have frozen the rush jobs' operations: then the model plans the rest
    if twt_job_shop and share == 1.0 and incumbent is not None and not problem.frozen:
        incumbent, solver_name, history = _twt_first(
            problem, incumbent, solver_name, began, time_limit, workers, seed, settings
        )
        if weighted_tardiness_of(problem, incumbent) == 0:
            done = ScheduleResult(
                status=Status.OPTIMAL,
                objective=0,
                bound=0,
                seconds=time.perf_counter() - began,
                assignments=tuple(incumbent),
                solver=solver_name,
                history=history,
            )
            return _finish(problem, done, began)
        hint = incumbent
    searchable = makespan_job_shop and share == 1.0 and incumbent is not None
    searchable = searchable and not problem.frozen
    # a small nearly classic flexible shop: the model first, the search after it
    search_last = searchable and problem.n_ops < settings.makespan_search_min_ops
    if searchable and not search_last and incumbent is not None:  # (narrows the type)
        incumbent, solver_name, history, floor = _makespan_first(
            problem, incumbent, solver_name, began, time_limit * search_share, workers, seed
        )
        if makespan_of(incumbent) <= floor:
            done = ScheduleResult(
                status=Status.OPTIMAL,
                objective=makespan_of(incumbent),
                bound=floor,
                seconds=time.perf_counter() - began,
                assignments=tuple(incumbent),
                solver=solver_name,
                history=history,
            )
            return _finish(problem, done, began)
        hint = incumbent
    model_share = 1.0 - search_share if search_last else share
    mono_limit = time_limit * model_share - (time.perf_counter() - began)
    if share > 0 and (mono_limit > settings.min_solver_seconds or incumbent is None):
        mono = solve_cpsat(
            problem, objective, mono_limit, workers, hint, previous, stability_weight, seed
        )
        if mono.status is Status.INFEASIBLE:
            return _finish(problem, mono, began)
        if mono.has_plan and (incumbent is None or _no_worse(problem, mono, incumbent, objective)):
            incumbent = list(mono.assignments)
            bound = mono.bound
            searched = solver_name.startswith(("twt", "makespan"))
            solver_name = f"{solver_name}+cpsat" if searched else "cpsat"
            if mono.status is Status.OPTIMAL:
                return _finish(problem, replace(mono, solver=solver_name), began)
        elif mono.has_plan:
            bound = mono.bound
        reason = mono.reason
    if incumbent is None:
        return ScheduleResult(
            status=Status.TIMEOUT_NO_SOLUTION,
            objective=None,
            bound=bound,
            seconds=time.perf_counter() - began,
            reason=reason or "no plan found within the time limit",
            solver=solver_name or "solve",
        )
    if search_last and hint is not None:
        incumbent, solver_name, history = _makespan_last(
            problem, incumbent, hint, bound, solver_name, began, time_limit, workers, seed
        )
    failures = WorkerFailures()  # crashed worker pools, reported in the result
    if (
        share < 1.0
        and not (previous and stability_weight)
        and not problem.has_crew
        and tabu_applies(problem, objective)
    ):
        incumbent, tabu_value = _tabu_portfolio(
            problem, incumbent, bound, began, time_limit, workers, seed, settings, failures
        )
        if tabu_value >= 0:
            solver_name = f"{solver_name}+tabu/lns"
            history += ((round(time.perf_counter() - began, 3), tabu_value),)
    if share == 0.0 and _sequence_applies(problem, objective, previous, stability_weight):
        offset = time.perf_counter() - began
        sequenced = SequenceStats(failures=failures)
        # the dispatching plan is not a starting point: its completion order led the
        # rounds into worse basins (18 s, 2 workers, three 2,000-operation factories:
        # 136,496-137,977 vs 110,909-113,444; 127,956 vs 127,767; 174,678 vs 163,931)
        # with operators, machine-order search (which knows none) is left out and its time
        # goes to the job-sequence search, whose plan is then decoded with the crew
        sequence_share = settings.sequence_share + (
            settings.reorder_share if problem.has_crew else 0.0
        )
        sequenced_plan = sequence_search(
            problem,
            objective,
            time_limit * sequence_share - offset,
            scale,
            seed,
            stats=sequenced,
            workers=workers,
            settings=settings,
        )
        if problem.has_crew:
            sequenced_plan = decode_with_crew(problem, sequenced_plan, objective, scale)
        if not (problem.has_crew and check_plan(problem, sequenced_plan)) and score(
            problem, sequenced_plan, objective, scale, None, 0
        ) <= score(problem, incumbent, objective, scale, None, 0):
            incumbent = sequenced_plan
        solver_name = "sequence"
        history = tuple((round(offset + t, 3), v) for t, v in sequenced.history)
        reorder_until = began + time_limit * (settings.sequence_share + settings.reorder_share)
        if (
            settings.reorder_share > 0
            and not problem.has_crew
            and reorder_until - time.perf_counter() > 0.1
        ):
            offset = time.perf_counter() - began
            polished, value = reorder_search(
                problem,
                objective,
                incumbent,
                reorder_until,
                scale,
                seed,
                workers,
                settings,
                failures,
            )
            if value >= 0 and not check_plan(problem, polished):
                incumbent = polished
                solver_name = "sequence+reorder"
                history += ((round(time.perf_counter() - began, 3), value),)
    left = time_limit - (time.perf_counter() - began) - min(0.1, 0.02 * time_limit)
    if left > 0.1:
        stats = LnsStats()
        offset = time.perf_counter() - began
        incumbent = improve(
            problem,
            incumbent,
            objective,
            left,
            workers,
            seed,
            previous,
            stability_weight,
            stats=stats,
        )
        solver_name = f"{solver_name}+lns"
        history += tuple((round(offset + t, 3), v) for t, v in stats.history or [])
    value = score(problem, incumbent, objective, scale, previous, stability_weight)
    if bound is not None and value <= bound:
        status = Status.OPTIMAL
    result = ScheduleResult(
        status=status,
        objective=value,
        bound=bound,
        seconds=time.perf_counter() - began,
        assignments=tuple(incumbent),
        solver=solver_name,
        history=history,
        worker_failures=failures.count,
    )
    return _finish(problem, result, began)


def decode_with_crew(
    problem: Problem, plan: list[Assignment], objective: Objective, scale: int
) -> list[Assignment]:
    """A plan from a search that knows no people, made feasible with them: the better of
    `crew.staff` (machines and machine order kept) and the repair without reservations
    (operations in the plan's start order, each where it was if a person is free, else at
    the first machine and person free). Measured on the 2,000-operation factory with 16
    people (seed 0, 8 s of job-sequence search): staffed 6,246,393, repaired 3,961,976,
    against 4,298,052 for the best dispatching rule."""
    candidates = [staff(problem, plan)]
    repaired = repair(problem, {a.op: a for a in plan}, reserve=False)
    if repaired is not None:
        candidates.append(repaired)
    feasible = [c for c in candidates if not check_plan(problem, c)]
    if not feasible:
        return candidates[0]
    return min(feasible, key=lambda c: score(problem, c, objective, scale, None, 0))


def _tabu_portfolio(
    problem: Problem,
    incumbent: list[Assignment],
    bound: int | None,
    began: float,
    time_limit: float,
    workers: int,
    seed: int,
    settings: SearchSettings = DEFAULT_SETTINGS,
    failures: WorkerFailures | None = None,
) -> tuple[list[Assignment], int]:
    """Tabu search in workers - 1 processes and window LNS with one CP-SAT worker here,
    both from `incumbent` until the time limit; the better plan and the tabu search's
    makespan (-1 when it did not run). One worker: tabu search alone, here.

    Why both: on Brandimarte at 60 s, tabu search reached 199-202 on mk10 (LNS 209) and
    58 on mk06, but stalled at 141-150 on mk07 where LNS reached 139."""
    deadline = began + time_limit - min(0.1, 0.02 * time_limit)
    if deadline - time.perf_counter() < 0.2:
        return incumbent, -1
    target = bound or 0
    if workers < 2 or deadline - time.perf_counter() < settings.tabu_portfolio_seconds:
        found, value = tabu_search(
            problem, incumbent, deadline, seed, workers, target, settings, failures
        )
    else:
        run = TabuBackground(problem, incumbent, deadline, seed, workers - 1, target, failures)
        # LNS's last sub-solve and the workers' exit overrun by up to ~0.3 s
        lns = improve(
            problem, incumbent, Objective.MAKESPAN, deadline - time.perf_counter() - 0.3, 1, seed
        )
        found, value = run.result()
        if value < 0 or makespan_of(lns) < value:
            found, value = lns, makespan_of(lns)
    if value >= 0 and not check_plan(problem, found) and value <= makespan_of(incumbent):
        return found, value
    return incumbent, value


def _twt_first(
    problem: Problem,
    incumbent: list[Assignment],
    solver_name: str,
    began: float,
    time_limit: float,
    workers: int,
    seed: int,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> tuple[list[Assignment], str, tuple[tuple[float, int], ...]]:
    """Weighted tardiness of a job shop: multi-start tabu search on the critical trees of
    the tardy jobs (`twt_search`, one thread per worker) for `settings.twt_search_share`
    of the time, from the best dispatching plan, every other rule's plan and random ones;
    its best plan then hints the monolithic model, which gets the rest of the time (it
    polishes the plan and proves bounds). Measured on Singer & Pinedo's 66 instances,
    60 s, 2 workers: see benchmarks/schedule/RESULTS.md."""
    deadline = began + time_limit * settings.twt_search_share
    if settings.twt_search_share <= 0 or deadline - time.perf_counter() < 0.05:
        return incumbent, solver_name, ()
    starts = [p for p in (dispatch(problem, r) for r in RULES) if p and not check_plan(problem, p)]
    found, value = twt_search(problem, incumbent, deadline, seed, workers, starts=starts)
    if value < 0 or check_plan(problem, found):
        return incumbent, solver_name, ()
    if value > weighted_tardiness_of(problem, incumbent):
        return incumbent, solver_name, ()
    return found, "twt-search", ((round(time.perf_counter() - began, 3), value),)


def _makespan_first(
    problem: Problem,
    incumbent: list[Assignment],
    solver_name: str,
    began: float,
    seconds: float,
    workers: int,
    seed: int,
) -> tuple[list[Assignment], str, tuple[tuple[float, int], ...], int]:
    """The makespan of a classic or nearly classic job shop: multi-start N7 tabu search
    (with moves to other machines where an operation has them; `makespan_search`, one
    thread per worker) for `seconds` from `began` (its share of the time,
    `_makespan_search_share`), from the best dispatching plan (every thread; other
    rules' plans as extra starts diluted the time without finding better basins),
    stopping early at the static lower bound; its best plan then hints the monolithic
    model, which gets the rest of the time. Returns the plan, its solver name, its
    history and the lower bound. Measured on Taillard's ta21-ta30 and ta41-ta50 and on
    Hurink's edata at 60 s, 2 workers: benchmarks/schedule/RESULTS.md."""
    floor = static_lower_bound(problem)
    deadline = began + seconds
    if deadline - time.perf_counter() < 0.05:
        return incumbent, solver_name, (), floor
    found, value = makespan_search.search(problem, incumbent, deadline, seed, workers, floor)
    if value < 0 or check_plan(problem, found) or value > makespan_of(incumbent):
        return incumbent, solver_name, (), floor
    return found, "makespan-search", ((round(time.perf_counter() - began, 3), value),), floor


def _makespan_last(
    problem: Problem,
    incumbent: list[Assignment],
    dispatched: list[Assignment],
    bound: int | None,
    solver_name: str,
    began: float,
    time_limit: float,
    workers: int,
    seed: int,
) -> tuple[list[Assignment], str, tuple[tuple[float, int], ...]]:
    """The makespan of a small nearly classic flexible shop, after the model (which
    proves the easy ones optimal and returns before this): multi-start N7 tabu search
    from the model's plan and the best dispatching plan until the end of the time, which
    stops at the model's bound. Measured on Hurink's edata la21-la25 (150 operations, 60 s,
    2 workers): the model alone swung from 1,009 to 1,023 on la21 by seed; searching
    first and hinting the model with the search's plan lost la25's optimum 936 (the
    search stays at 941 there, the hinted model reached 936 in some runs only), the
    model first proves it in 28 s (benchmarks/schedule/RESULTS.md)."""
    floor = max(static_lower_bound(problem), bound or 0)
    # the margin `solve` keeps at the end, and no time left for its LNS
    deadline = began + time_limit - min(0.1, 0.02 * time_limit) - 0.1
    if deadline - time.perf_counter() < 0.05 or makespan_of(incumbent) <= floor:
        return incumbent, solver_name, ()
    found, value = makespan_search.search(
        problem, incumbent, deadline, seed, workers, floor, starts=[dispatched]
    )
    if value < 0 or check_plan(problem, found) or value >= makespan_of(incumbent):
        return incumbent, solver_name, ()
    name = f"{solver_name}+makespan-search" if solver_name else "makespan-search"
    return found, name, ((round(time.perf_counter() - began, 3), value),)


def _no_worse(
    problem: Problem, result: ScheduleResult, incumbent: list[Assignment], objective: Objective
) -> bool:
    """Whether the model's plan is at least as good as the incumbent (a hinted model
    normally returns its hint or better; this guards the case where it could not use it)."""
    scale = safe_horizon(problem) + 1
    mine = score(problem, list(result.assignments), objective, scale, None, 0)
    return mine <= score(problem, incumbent, objective, scale, None, 0)


def _default_share(
    problem: Problem,
    objective: Objective,
    time_limit: float,
    stability: bool = False,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> float:
    """Measured: up to ~1,000 operations the hinted monolithic model (whose portfolio
    already runs CP-SAT's own LNS) beats our Python-driven LNS on weighted tardiness;
    above, building and presolving the whole model costs seconds per call and window LNS
    wins. The same holds for setup circuits above ~10,000 arcs (a 600-operation shop with
    printers: the model returned only its hint in 20 s, window LNS improved it).

    For the makespan of a flexible shop (operations average at least
    `settings.makespan_search_max_modes` machines), the monolithic model gets a quarter
    of the time (all of it up to
    `settings.makespan_monolithic_seconds`): enough to prove the small instances optimal,
    after which our LNS with critical-path neighbourhoods, which also moves operations between
    machines, improves faster than CP-SAT's own with two workers (Brandimarte at 60 s, 2
    workers: mean gap 1.18 % against 1.45 % with the whole time for the model). A classic
    job shop (one machine per operation) keeps the whole time for the model (and the
    makespan search before it, `_makespan_first`): there the quarter-then-LNS split lost
    to the textbook model on ta21-ta30 (2.68 % against 2.20 %) where the model alone had
    beaten it on la21-la40 (0.09 % against 0.26 %). So does a nearly classic flexible
    shop (Hurink's edata, 1.13-1.21 machines per operation), where the split trailed
    PyJobShop's plain model (benchmarks/schedule/RESULTS.md)."""
    small = (
        problem.n_ops <= settings.monolithic_max_ops
        and circuit_size(problem) <= settings.monolithic_max_arcs
    )
    if not small:
        return 0.0
    flexible = not _nearly_classic(problem, settings)
    if objective is Objective.MAKESPAN and flexible and not stability and time_limit > 0:
        seconds = max(
            settings.makespan_monolithic_share * time_limit, settings.makespan_monolithic_seconds
        )
        return min(1.0, seconds / time_limit)
    return 1.0


def _makespan_search_share(problem: Problem, settings: SearchSettings) -> float:
    """The share of the time for the makespan search (0: none): a
    classic or nearly classic shop (`_nearly_classic`) of at least
    `settings.makespan_search_min_ops` operations gets `settings.makespan_search_share`;
    a nearly classic flexible one from `settings.flexible_search_min_ops` operations
    gets `settings.flexible_small_search_share` below that size, after the model
    (`_makespan_last`)."""
    if not _nearly_classic(problem, settings):
        return 0.0
    if problem.n_ops >= settings.makespan_search_min_ops:
        return settings.makespan_search_share
    flexible = any(len(op.modes) > 1 for op in problem.operations)
    if flexible and problem.n_ops >= settings.flexible_search_min_ops:
        return settings.flexible_small_search_share
    return 0.0


def _nearly_classic(problem: Problem, settings: SearchSettings) -> bool:
    """Whether the operations average fewer than `settings.makespan_search_max_modes`
    machines (a classic job shop has one per operation)."""
    modes = sum(len(op.modes) for op in problem.operations)
    return modes < settings.makespan_search_max_modes * problem.n_ops


def _sequence_applies(
    problem: Problem,
    objective: Objective,
    previous: Mapping[int, Assignment] | None,
    stability_weight: int,
) -> bool:
    """Job-sequence search for due-date objectives without a stability term (it re-times
    every job after a move: the opposite of a repair) on problems with due dates.
    Measured on the 2,000-operation factory (weighted tardiness, 2 workers, 60 s): 30 s of
    it then 30 s of window LNS reach 138,615-159,734 where window LNS alone reached
    292,042 (benchmarks/schedule/RESULTS.md)."""
    if objective is Objective.MAKESPAN or (previous and stability_weight):
        return False
    return problem.has_due_dates and len(problem.jobs) > 1 and frozen_predecessors_frozen(problem)


def _finish(problem: Problem, result: ScheduleResult, began: float) -> ScheduleResult:
    """Sort the plan, fill makespan / tardiness and the total time."""
    plan = tuple(sorted(result.assignments, key=lambda a: a.op))
    return ScheduleResult(
        status=result.status,
        objective=result.objective,
        bound=result.bound,
        seconds=time.perf_counter() - began,
        assignments=plan,
        reason=result.reason,
        solver=result.solver,
        makespan=makespan_of(plan) if plan else None,
        weighted_tardiness=weighted_tardiness_of(problem, plan) if plan else None,
        history=result.history,
        worker_failures=result.worker_failures,
    )
