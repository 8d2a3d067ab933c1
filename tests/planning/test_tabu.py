"""Tabu search for the makespan: every plan it gives is feasible by the independent
checker, its reported makespan is the recomputed one, it never ends worse than it started,
it reaches the published optima of ft06 (55) and Brandimarte mk01 (40), and the solver
runs it (with window LNS beside it) only where it applies."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microfactory.planning import solve, tabu
from microfactory.planning.checker import check_plan
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
    Window,
    chain_precedences,
)
from microfactory.planning.readers import read_fjs, read_jssp
from microfactory.planning.result import makespan_of

from .test_properties import SETTINGS, problems


@SETTINGS
@given(problems(merges=True, releases=True), st.integers(0, 2**31))
def test_search_gives_feasible_plans_with_their_true_makespan(problem: Problem, seed: int) -> None:
    start = dispatch(problem, "spt")
    assert start is not None
    if not tabu.applies(problem, Objective.MAKESPAN):
        assert problem.n_ops < 2
        return
    search = tabu.TabuSearch(problem)
    value, timed = search.evaluate(start)
    assert check_plan(problem, timed) == []
    assert value == makespan_of(timed) <= makespan_of(start)  # nothing starts later
    found, best, (iterations, _) = search.search(start, time.perf_counter(), seed)
    assert check_plan(problem, found) == []  # releases and assembly merges kept
    assert best == makespan_of(found) <= value
    assert iterations >= 1


def test_reaches_the_optimum_of_ft06(jssp_dir: Path) -> None:
    problem = read_jssp(jssp_dir / "ft06.txt")
    start = dispatch(problem, "spt")
    assert start is not None and makespan_of(start) > 55
    found, value, _ = tabu.TabuSearch(problem).search(
        start, time.perf_counter() + 30.0, seed=0, target=55
    )
    assert check_plan(problem, found) == []
    assert value == makespan_of(found) == 55  # published optimum (Fisher & Thompson)


def test_reaches_the_optimum_of_mk01_moving_operations_between_machines(
    fjsp_dir: Path,
) -> None:
    problem = read_fjs(fjsp_dir / "mk01.fjs")
    start = dispatch(problem, "mwkr")
    assert start is not None and makespan_of(start) > 40
    found, value, (_, improvements) = tabu.TabuSearch(problem).search(
        start, time.perf_counter() + 30.0, seed=0, target=40
    )
    assert check_plan(problem, found) == []
    assert value == makespan_of(found) == 40  # Brandimarte's best known, proven optimal
    assert improvements > 0
    machines = {a.op: a.machine for a in start}
    assert any(machines[a.op] != a.machine for a in found)


def test_orders_that_contradict_a_precedence_are_refused() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(),),
        operations=(Operation(job=0, modes=(Mode(0, 3),)), Operation(job=0, modes=(Mode(0, 2),))),
        precedences=((0, 1),),
    )
    backwards = [Assignment(0, 0, 2, 5), Assignment(1, 0, 0, 2)]  # op 1 runs before op 0
    value, plan = tabu.TabuSearch(problem).evaluate(backwards)
    assert value == tabu.CYCLE
    assert plan == backwards
    found, value, counts = tabu.TabuSearch(problem).search(backwards, time.perf_counter())
    assert (found, value, counts) == (backwards, tabu.CYCLE, (0, 0))


def _flexible() -> Problem:
    """Six jobs of three operations, each on two of three machines."""
    operations = []
    for j in range(6):
        for k in range(3):
            a, b = (j + k) % 3, (j + k + 1) % 3
            operations.append(
                Operation(job=j, modes=(Mode(a, 2 + (j * 3 + k) % 5), Mode(b, 3 + (j + k) % 4)))
            )
    return Problem(
        machines=(Machine(), Machine(), Machine()),
        jobs=tuple(Job() for _ in range(6)),
        operations=tuple(operations),
        precedences=tuple(chain_precedences([[3 * j, 3 * j + 1, 3 * j + 2] for j in range(6)])),
    )


def test_applies_only_to_makespan_without_calendars_setups_frozen_or_deadlines() -> None:
    problem = _flexible()
    assert tabu.applies(problem, Objective.MAKESPAN)
    assert not tabu.applies(problem, Objective.WEIGHTED_TARDINESS)
    assert not tabu.applies(problem, Objective.TARDINESS_THEN_MAKESPAN)
    windowed = (replace(problem.machines[0], unavailable=(Window(5, 9),)), *problem.machines[1:])
    assert not tabu.applies(replace(problem, machines=windowed), Objective.MAKESPAN)
    setups = (replace(problem.machines[0], setups={("a", "b"): 2}), *problem.machines[1:])
    assert not tabu.applies(replace(problem, machines=setups), Objective.MAKESPAN)
    frozen = replace(problem, frozen=(FrozenOp(op=0, machine=0, start=0),))
    assert not tabu.applies(frozen, Objective.MAKESPAN)
    ops = (replace(problem.operations[0], deadline=30), *problem.operations[1:])
    assert not tabu.applies(replace(problem, operations=ops), Objective.MAKESPAN)


@pytest.mark.slow
def test_solver_runs_tabu_search_beside_lns_in_a_second_process() -> None:
    problem = _flexible()
    start = dispatch(problem, "mwkr")
    assert start is not None
    result = solve(problem, Objective.MAKESPAN, time_limit=8.0, workers=2, monolithic_share=0.0)
    assert "tabu/lns" in result.solver
    assert check_plan(problem, list(result.assignments)) == []
    assert result.objective == result.makespan == makespan_of(list(result.assignments))
    assert result.objective is not None and result.objective <= makespan_of(start)


def test_background_search_gives_a_feasible_plan_from_two_processes() -> None:
    problem = _flexible()
    start = dispatch(problem, "mwkr")
    assert start is not None
    found, value = tabu.Background(problem, start, time.perf_counter() + 3.0, 1, 2).result()
    assert check_plan(problem, found) == []
    assert value == makespan_of(found) <= makespan_of(start)


def test_warm_compiles_once() -> None:
    tabu.warm()
    assert tabu.warm() == 0.0
