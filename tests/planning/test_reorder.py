"""Machine-order search: every plan it gives is feasible by the independent checker, its
reported value is the independently recomputed objective, it never ends worse than it
started, and it keeps frozen operations where they are."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microfactory.planning import reorder
from microfactory.planning.checker import check_plan
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    Assignment,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
)
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.result import objective_value, weighted_tardiness_of
from microfactory.planning.search_settings import SearchSettings
from microfactory.planning.sequence import SequenceDecoder, initial_sequences, ranks_of

from .test_properties import SETTINGS, problems

SCALE = 10**6


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.sampled_from(list(Objective)),
    st.integers(0, 2**31),
)
def test_search_gives_feasible_plans_with_their_true_value(
    problem: Problem, objective: Objective, seed: int
) -> None:
    start = dispatch(problem, "edd")
    assert start is not None
    search = reorder.OrderSearch(problem, objective, SCALE)
    value, timed = search.evaluate(start)
    assert value >= 0  # a feasible plan's own orders always give a plan back
    assert check_plan(problem, timed) == []
    assert value == objective_value(problem, timed, objective, SCALE)
    assert value <= objective_value(problem, start, objective, SCALE)  # nothing starts later
    found, best, (candidates, rejected, _) = search.search(start, time.perf_counter(), seed)
    assert check_plan(problem, found) == []
    assert best == objective_value(problem, found, objective, SCALE)
    assert best <= value
    assert candidates >= (1 if problem.n_ops > 1 else 0)
    assert 0 <= rejected <= candidates


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.sampled_from(list(Objective)),
    st.integers(0, 2**31),
    st.integers(0, 40),
)
def test_incremental_evaluation_agrees_with_a_full_pass(
    problem: Problem, objective: Objective, seed: int, now: int
) -> None:
    """Every candidate (one chunk) re-timed by propagation or from the earliest touched
    operation gets the objective and every start and end a full forward pass gives, with
    and without frozen operations."""
    base = dispatch(problem, "edd")
    assert base is not None
    for changed in (problem, freeze_started(problem, base, now)):
        start = dispatch(changed, "edd")
        if start is None:
            continue
        search = reorder.OrderSearch(changed, objective, SCALE)
        found, value, _ = search.search(start, time.perf_counter(), seed, verify=True)
        assert search.mismatches == 0
        assert check_plan(changed, found) == []
        assert value == objective_value(changed, found, objective, SCALE)


@pytest.mark.parametrize("zero", [False, True])
def test_incremental_evaluation_agrees_on_a_factory(factory: Problem, zero: bool) -> None:
    """The same on 400 operations with setups, calendars and machine choices; with a
    zero-duration operation the start order is no longer topological, so propagation is
    off and every candidate is re-timed from the earliest touched operation."""
    problem = factory
    if zero:
        first = problem.operations[0]
        zeroed = replace(first, modes=tuple(replace(m, duration=0) for m in first.modes))
        problem = replace(problem, operations=(zeroed, *problem.operations[1:]))
    start = _sequence_plan(problem)
    search = reorder.OrderSearch(problem, Objective.TARDINESS_THEN_MAKESPAN, SCALE)
    found, value, (candidates, _, _) = search.search(start, time.perf_counter(), 3, verify=True)
    assert search.mismatches == 0
    assert candidates >= reorder.CHUNK
    assert (search.propagated == 0) == zero
    assert value == objective_value(problem, found, Objective.TARDINESS_THEN_MAKESPAN, SCALE)


@SETTINGS
@given(problems(windows=True, setups=True, due_dates=True), st.integers(0, 40))
def test_search_keeps_started_operations_where_they_are(problem: Problem, now: int) -> None:
    base = dispatch(problem, "mwkr")
    assert base is not None
    changed = freeze_started(problem, base, now)
    start = dispatch(changed, "edd")
    if start is None:
        return
    found, _, _ = reorder.OrderSearch(changed, Objective.WEIGHTED_TARDINESS, SCALE).search(
        start, time.perf_counter(), 5
    )
    assert check_plan(changed, found) == []  # the checker verifies frozen starts too


def test_orders_that_contradict_a_precedence_are_refused() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(due=10),),
        operations=(Operation(job=0, modes=(Mode(0, 3),)), Operation(job=0, modes=(Mode(0, 2),))),
        precedences=((0, 1),),
    )
    backwards = [Assignment(0, 0, 2, 5), Assignment(1, 0, 0, 2)]  # op 1 runs before op 0
    value, plan = reorder.OrderSearch(problem, Objective.MAKESPAN, SCALE).evaluate(backwards)
    assert value == reorder.CYCLE
    assert plan == backwards  # given back unchanged
    found, value, counts = reorder.OrderSearch(problem, Objective.MAKESPAN, SCALE).search(
        backwards, time.perf_counter()
    )
    assert (found, value, counts) == (backwards, reorder.CYCLE, (0, 0, 0))


@pytest.fixture(scope="module")
def factory() -> Problem:
    """A 400-operation factory with due dates three times tighter than generated."""
    problem = generate_factory(seed=3, target_ops=400)
    jobs = tuple(
        replace(job, due=job.release + (job.due - job.release) // 3)
        for job in problem.jobs
        if job.due is not None
    )
    assert len(jobs) == len(problem.jobs)
    return replace(problem, jobs=jobs)


def _sequence_plan(factory: Problem) -> list[Assignment]:
    decoded = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, SCALE).decode(
        ranks_of(initial_sequences(factory)[0])
    )
    assert decoded is not None
    return decoded.plan()


def test_search_improves_a_decoded_job_sequence(factory: Problem) -> None:
    start = _sequence_plan(factory)
    before = weighted_tardiness_of(factory, start)
    found, value, (candidates, _, improvements) = reorder.OrderSearch(
        factory, Objective.WEIGHTED_TARDINESS, SCALE
    ).search(start, time.perf_counter() + 1.0, 0)
    assert check_plan(factory, found) == []
    assert value == weighted_tardiness_of(factory, found) < before
    assert improvements > 0 and candidates > 1000


@pytest.mark.slow
def test_parallel_rounds_give_a_feasible_plan_no_worse_than_the_start(factory: Problem) -> None:
    settings = SearchSettings(reorder_parallel_min_seconds=1.0, reorder_round_seconds=1.0)
    start = _sequence_plan(factory)
    found, value = reorder.search(
        factory,
        Objective.WEIGHTED_TARDINESS,
        start,
        time.perf_counter() + 4.0,
        SCALE,
        seed=1,
        workers=2,
        settings=settings,
    )
    assert check_plan(factory, found) == []
    assert value == weighted_tardiness_of(factory, found) <= weighted_tardiness_of(factory, start)


def test_warm_compiles_once() -> None:
    reorder.warm()
    assert reorder.warm() == 0.0
