"""N7 tabu search for the makespan of a job shop: every plan it gives passes the checker
and its makespan, recomputed here from the starts, is the one it reports; it never ends
worse than it started nor below the static lower bound; it reaches the optimum found by
enumerating every machine order and the published optimum of ft06; the solver runs it
only where it applies."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microfactory.planning import makespan_search, solve
from microfactory.planning import solver as solver_module
from microfactory.planning.bounds import static_lower_bound
from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import solve_cpsat
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    Assignment,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
    Window,
    chain_precedences,
)
from microfactory.planning.readers import read_jssp
from microfactory.planning.result import Status
from microfactory.planning.search_settings import SearchSettings

FT06 = Path(__file__).resolve().parents[1] / "data" / "jssp" / "ft06.txt"


@st.composite
def job_shops(draw: st.DrawFn) -> Problem:
    """Job shops with releases and, within a job, precedences that may form a DAG (an
    operation after any earlier one of its job), not only a chain."""
    machines = draw(st.integers(1, 4))
    operations: list[Operation] = []
    precedences: list[tuple[int, int]] = []
    jobs: list[Job] = []
    for j in range(draw(st.integers(1, 5))):
        jobs.append(Job(release=draw(st.integers(0, 6))))
        route = draw(st.permutations(range(machines)))
        first = len(operations)
        for machine in route[: draw(st.integers(1, machines))]:
            op = len(operations)
            operations.append(Operation(job=j, modes=(Mode(machine, draw(st.integers(0, 9))),)))
            for before in range(first, op):
                if before == op - 1 or draw(st.booleans()):
                    precedences.append((before, op))
    return Problem(
        machines=tuple(Machine() for _ in range(machines)),
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple(precedences),
    )


def _makespan(problem: Problem, plan: list[Assignment]) -> int:
    """Recomputed from the plan alone: the latest end of a start plus its duration."""
    return max(a.start + problem.operations[a.op].modes[0].duration for a in plan)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_shops(), st.integers(0, 2**31))
def test_every_plan_is_feasible_with_its_reported_makespan(problem: Problem, seed: int) -> None:
    if not makespan_search.applies(problem, Objective.MAKESPAN):
        assert problem.n_ops < 2
        return
    start = dispatch(problem, "spt")
    assert start is not None
    search = makespan_search.MakespanSearch(problem)
    found, value, (iterations, _) = search.search(start, 0.0, seed, iterations=300)
    assert check_plan(problem, found) == []
    assert value == _makespan(problem, found)
    assert static_lower_bound(problem) <= value <= _makespan(problem, start)
    assert iterations <= 300


# 3 jobs x 3 machines; every machine order is enumerated below (6^3 = 216 combinations)
TINY = [
    [(0, 3), (1, 4), (2, 2)],
    [(1, 5), (0, 2), (2, 3)],
    [(2, 4), (1, 2), (0, 3)],
    [(0, 2), (2, 3), (1, 4)],
]


def _tiny() -> Problem:
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for j, route in enumerate(TINY):
        job_ops.append([])
        for machine, duration in route:
            job_ops[-1].append(len(operations))
            operations.append(Operation(job=j, modes=(Mode(machine, duration),)))
    return Problem(
        machines=(Machine(), Machine(), Machine()),
        jobs=tuple(Job() for _ in TINY),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
    )


def _brute_force() -> int:
    """The least makespan over every combination of machine orders (semi-active timing;
    cyclic combinations skipped), computed without the planner."""
    on_machine: dict[int, list[tuple[int, int]]] = {}
    for j, route in enumerate(TINY):
        for k, (machine, _) in enumerate(route):
            on_machine.setdefault(machine, []).append((j, k))
    machines = sorted(on_machine)
    best: int | None = None
    for orders in itertools.product(*(itertools.permutations(on_machine[m]) for m in machines)):
        before = {
            op: (order[i - 1] if i else None) for order in orders for i, op in enumerate(order)
        }
        end: dict[tuple[int, int], int] = {}
        progress = True
        while progress and len(end) < len(before):
            progress = False
            for op, previous in before.items():
                j, k = op
                if op in end or (k and (j, k - 1) not in end):
                    continue
                if previous is not None and previous not in end:
                    continue
                ready = max(end[(j, k - 1)] if k else 0, end[previous] if previous else 0)
                end[op] = ready + TINY[j][k][1]
                progress = True
        if len(end) == len(before):
            best = max(end.values()) if best is None else min(best, max(end.values()))
    assert best is not None
    return best


def _one_job_at_a_time(problem: Problem) -> list[Assignment]:
    """The worst sensible plan: each job's operations in turn, one job after another."""
    plan: list[Assignment] = []
    t = 0
    for ops in problem.job_ops():
        for op in ops:
            mode = problem.operations[op].modes[0]
            plan.append(Assignment(op, mode.machine, t, t + mode.duration))
            t += mode.duration
    return plan


def test_reaches_the_optimum_found_by_enumerating_every_machine_order() -> None:
    problem = _tiny()
    optimum = _brute_force()
    start = _one_job_at_a_time(problem)
    assert _makespan(problem, start) > optimum  # a real test: the start is not optimal
    found, value, _ = makespan_search.MakespanSearch(problem).search(start, 0.0, iterations=2000)
    assert value == optimum == _makespan(problem, found)
    assert check_plan(problem, found) == []


def test_reaches_the_published_optimum_of_ft06() -> None:
    problem = read_jssp(FT06)
    start = dispatch(problem, "spt")
    assert start is not None and _makespan(problem, start) > 55
    found, value, _ = makespan_search.MakespanSearch(problem).search(
        start, 0.0, seed=3, iterations=20_000
    )
    assert value == 55 == _makespan(problem, found)  # Fisher & Thompson's ft06: 55
    assert check_plan(problem, found) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_shops(), st.integers(0, 2**31))
def test_an_iteration_budget_gives_the_same_plan_for_the_same_seed(
    problem: Problem, seed: int
) -> None:
    if not makespan_search.applies(problem, Objective.MAKESPAN):
        return
    start = dispatch(problem, "mwkr")
    assert start is not None
    search = makespan_search.MakespanSearch(problem)
    first = search.search(start, 0.0, seed, iterations=200)
    assert search.search(start, 0.0, seed, iterations=200) == first


def test_two_threads_give_a_checked_plan_no_worse_than_the_start() -> None:
    problem = read_jssp(FT06)
    start = dispatch(problem, "mwkr")
    assert start is not None
    found, value = makespan_search.search(problem, start, time.perf_counter() + 0.5, threads=2)
    assert check_plan(problem, found) == []
    assert 55 <= value == _makespan(problem, found) <= _makespan(problem, start)


def _shop(jobs: int, machines: int, seed: int) -> Problem:
    """A random job shop (every job visits every machine once, durations 1-99), the
    shape of Taillard's instances."""
    import random

    rng = random.Random(seed)
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for j in range(jobs):
        job_ops.append([])
        for machine in rng.sample(range(machines), machines):
            job_ops[-1].append(len(operations))
            operations.append(Operation(job=j, modes=(Mode(machine, rng.randint(1, 99)),)))
    return Problem(
        machines=tuple(Machine() for _ in range(machines)),
        jobs=tuple(Job() for _ in range(jobs)),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
    )


def test_the_solver_runs_it_before_the_model_on_a_large_job_shop() -> None:
    problem = _shop(20, 10, seed=4)
    assert problem.n_ops >= SearchSettings().makespan_search_min_ops
    result = solve(problem, Objective.MAKESPAN, time_limit=3.0, workers=2)
    assert result.solver.startswith("makespan-search")
    assert check_plan(problem, list(result.assignments)) == []
    assert result.makespan == _makespan(problem, list(result.assignments))
    best_rule = min(
        _makespan(problem, plan)
        for plan in (dispatch(problem, rule) for rule in ("gt", "mwkr", "spt"))
        if plan is not None
    )
    assert result.makespan is not None and result.makespan < best_rule


def test_a_plan_at_the_lower_bound_ends_the_solve_at_once_as_optimal() -> None:
    # machine 0 carries 20 x 50 of work, everything else is short: the bound is its load
    problem = _shop(20, 10, seed=5)
    operations = tuple(
        replace(op, modes=(Mode(op.modes[0].machine, 50 if op.modes[0].machine == 0 else 1),))
        for op in problem.operations
    )
    problem = replace(problem, operations=operations)
    result = solve(problem, Objective.MAKESPAN, time_limit=20.0, workers=2)
    assert result.status is Status.OPTIMAL
    assert result.makespan == result.bound == static_lower_bound(problem)
    assert result.solver == "makespan-search"
    assert result.seconds < 10.0  # not a timing goal: it did not wait for the model


def test_a_small_job_shop_keeps_the_whole_time_for_the_model() -> None:
    problem = read_jssp(FT06)
    result = solve(problem, Objective.MAKESPAN, time_limit=5.0, workers=2)
    assert not result.solver.startswith("makespan-search")
    assert result.makespan == 55


def test_applies_only_to_the_makespan_of_a_plain_shop() -> None:
    problem = _tiny()
    assert makespan_search.applies(problem, Objective.MAKESPAN)
    assert not makespan_search.applies(problem, Objective.WEIGHTED_TARDINESS)
    calendar = replace(
        problem, machines=(Machine(unavailable=(Window(0, 5),)), *problem.machines[1:])
    )
    assert not makespan_search.applies(calendar, Objective.MAKESPAN)
    with pytest.raises(ValueError, match="calendars"):
        makespan_search.MakespanSearch(calendar)
    flexible_op = replace(problem.operations[0], modes=(Mode(0, 3), Mode(1, 4)))
    flexible = replace(problem, operations=(flexible_op, *problem.operations[1:]))
    assert makespan_search.applies(flexible, Objective.MAKESPAN)


def test_a_rush_job_keeps_the_solver_off_the_search() -> None:
    problem = _shop(20, 10, seed=6)
    jobs = (replace(problem.jobs[0], rush=True), *problem.jobs[1:])
    result = solve(replace(problem, jobs=jobs), Objective.MAKESPAN, time_limit=2.0, workers=1)
    assert not result.solver.startswith("makespan-search")  # frozen rush operations
    assert check_plan(replace(problem, jobs=jobs), list(result.assignments)) == []


def test_the_share_is_a_fraction() -> None:
    with pytest.raises(ValueError, match="makespan_search_share"):
        SearchSettings(makespan_search_share=1.5)
    with pytest.raises(ValueError, match="flexible_small_search_share"):
        SearchSettings(flexible_small_search_share=-0.1)


@st.composite
def flexible_shops(draw: st.DrawFn) -> Problem:
    """The job shops above, where an operation may also run on up to two other machines,
    each at its own duration."""
    problem = draw(job_shops())
    operations = []
    for op in problem.operations:
        own = op.modes[0].machine
        rest = [m for m in range(len(problem.machines)) if m != own]
        others = sorted(draw(st.sets(st.sampled_from(rest), max_size=2))) if rest else []
        extra = tuple(Mode(m, draw(st.integers(0, 9))) for m in others)
        operations.append(replace(op, modes=(*op.modes, *extra)))
    return replace(problem, operations=tuple(operations))


def _flexible_makespan(problem: Problem, plan: list[Assignment]) -> int:
    """Recomputed from the plan alone: the latest start plus the duration of the
    operation's mode on the machine the plan gives it."""
    ends = []
    for a in plan:
        durations = [m.duration for m in problem.operations[a.op].modes if m.machine == a.machine]
        assert durations, f"operation {a.op} cannot run on machine {a.machine}"
        ends.append(a.start + durations[0])
    return max(ends)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flexible_shops(), st.integers(0, 2**31))
def test_a_flexible_shop_gets_checked_plans_with_their_reported_makespan(
    problem: Problem, seed: int
) -> None:
    if not makespan_search.applies(problem, Objective.MAKESPAN):
        assert problem.n_ops < 2
        return
    start = dispatch(problem, "spt")
    assert start is not None
    search = makespan_search.MakespanSearch(problem)
    found, value, _ = search.search(start, 0.0, seed, iterations=300)
    assert check_plan(problem, found) == []
    assert value == _flexible_makespan(problem, found)
    assert static_lower_bound(problem) <= value <= _flexible_makespan(problem, start)
    assert search.search(start, 0.0, seed, iterations=300) == (found, value, _)


def test_a_flexible_shop_moves_work_to_another_machine() -> None:
    """Four one-operation jobs that both machines can run (5 on machine 0, 6 on 1), all
    started on machine 0: no machine order reaches below 20 there; moving two of them to
    machine 1 gives the optimum 12 (two on each machine)."""
    operations = tuple(Operation(job=j, modes=(Mode(0, 5), Mode(1, 6))) for j in range(4))
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=tuple(Job() for _ in range(4)),
        operations=operations,
        precedences=(),
    )
    start = [Assignment(j, 0, 5 * j, 5 * j + 5) for j in range(4)]
    found, value, _ = makespan_search.MakespanSearch(problem).search(start, 0.0, iterations=200)
    assert check_plan(problem, found) == []
    assert value == _flexible_makespan(problem, found) == 12
    assert sorted(a.machine for a in found) == [0, 0, 1, 1]


def test_a_flexible_shop_reaches_the_models_optimum() -> None:
    """mk01-like: on a small flexible shop the search's makespan equals the optimum the
    CP-SAT model proves (an independent method)."""
    import random

    rng = random.Random(11)
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for j in range(6):
        job_ops.append([])
        for _ in range(4):
            choice = rng.sample(range(4), rng.randint(1, 2))
            job_ops[-1].append(len(operations))
            operations.append(
                Operation(job=j, modes=tuple(Mode(m, rng.randint(1, 9)) for m in choice))
            )
    problem = Problem(
        machines=tuple(Machine() for _ in range(4)),
        jobs=tuple(Job() for _ in range(6)),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
    )
    exact = solve_cpsat(problem, Objective.MAKESPAN, time_limit=20.0, workers=2)
    assert exact.status is Status.OPTIMAL
    start = dispatch(problem, "mwkr")
    assert start is not None
    found, value, _ = makespan_search.MakespanSearch(problem).search(
        start, 0.0, seed=1, iterations=20_000, target=static_lower_bound(problem)
    )
    assert check_plan(problem, found) == []
    assert value == exact.objective


def _with_alternatives(problem: Problem, every: int) -> Problem:
    """Every `every`-th operation may also run on the next machine, 10 % slower."""
    machines = len(problem.machines)
    operations = tuple(
        replace(
            op,
            modes=(
                op.modes[0],
                Mode((op.modes[0].machine + 1) % machines, op.modes[0].duration * 11 // 10),
            ),
        )
        if k % every == 0
        else op
        for k, op in enumerate(problem.operations)
    )
    return replace(problem, operations=operations)


def test_the_solver_runs_it_on_a_nearly_classic_flexible_shop() -> None:
    """Hurink's edata shape (about 1.2 machines per operation): the search first, then
    the model (the whole time, no LNS split); plans use the alternatives they were given."""
    problem = _with_alternatives(_shop(20, 10, seed=7), every=5)
    result = solve(problem, Objective.MAKESPAN, time_limit=3.0, workers=2)
    assert result.solver.startswith("makespan-search")
    assert "lns" not in result.solver and "tabu" not in result.solver
    plan = list(result.assignments)
    assert check_plan(problem, plan) == []
    assert result.makespan == _flexible_makespan(problem, plan)


def test_a_nearly_classic_flexible_shop_of_150_operations_gets_the_search_after_the_model() -> None:
    """edata la21-la25's shape (15 x 10, some operations with a second machine): below
    `makespan_search_min_ops` the model runs first and the search gets the last quarter
    of the time; a classic job shop of that size keeps the model alone."""
    settings = SearchSettings()
    classic = _shop(15, 10, seed=8)
    flexible = _with_alternatives(classic, every=5)
    assert settings.flexible_search_min_ops <= flexible.n_ops < settings.makespan_search_min_ops
    assert solver_module._makespan_search_share(flexible, settings) == 0.25
    assert solver_module._makespan_search_share(classic, settings) == 0.0
    larger = _with_alternatives(_shop(20, 10, seed=8), every=5)
    assert solver_module._makespan_search_share(larger, settings) == 0.5
    result = solve(flexible, Objective.MAKESPAN, time_limit=2.0, workers=2)
    assert result.solver.startswith("cpsat")  # the model first, then maybe the search
    assert "lns" not in result.solver and "tabu" not in result.solver
    plan = list(result.assignments)
    assert check_plan(flexible, plan) == []
    assert result.makespan == _flexible_makespan(flexible, plan)


def test_the_search_after_the_model_improves_its_plan_and_stops_at_its_bound() -> None:
    problem = _with_alternatives(_shop(15, 10, seed=8), every=5)
    start = dispatch(problem, "spt")
    assert start is not None
    before = _flexible_makespan(problem, start)
    makespan_search.warm()  # compiled before the clock starts, as solve does
    found, name, history = solver_module._makespan_last(
        problem, start, start, None, "cpsat", time.perf_counter(), 2.0, 2, 0
    )
    assert name == "cpsat+makespan-search"
    assert check_plan(problem, found) == []
    value = _flexible_makespan(problem, found)
    assert static_lower_bound(problem) <= value < before
    assert history[-1][1] == value
    # a plan at the model's bound is optimal: nothing to search
    same = solver_module._makespan_last(
        problem, start, start, before, "cpsat", time.perf_counter(), 2.0, 2, 0
    )
    assert same == (start, "cpsat", ())


def test_two_threads_on_a_flexible_shop_give_a_checked_plan_no_worse_than_the_start() -> None:
    """The runs afresh from the start plan (flexible shops) in two threads."""
    problem = _with_alternatives(_shop(8, 5, seed=9), every=3)
    start = dispatch(problem, "spt")
    assert start is not None
    found, value = makespan_search.search(problem, start, time.perf_counter() + 0.5, threads=2)
    assert check_plan(problem, found) == []
    assert value == _flexible_makespan(problem, found) <= _flexible_makespan(problem, start)


def test_a_shop_with_more_choice_stays_on_the_model_and_lns() -> None:
    """Brandimarte's shape (1.5 machines per operation and more): the search is not run."""
    problem = _with_alternatives(_shop(20, 10, seed=7), every=2)
    result = solve(problem, Objective.MAKESPAN, time_limit=3.0, workers=2)
    assert not result.solver.startswith("makespan-search")
    assert check_plan(problem, list(result.assignments)) == []
