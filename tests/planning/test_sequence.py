"""Job-sequence search: decoded plans are feasible (independent checker), checkpoints and
pruning change nothing but speed, and the search finds known optima."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microfactory.planning.checker import check_plan
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    FrozenOp,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
)
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.result import makespan_of, weighted_tardiness_of
from microfactory.planning.search_settings import DEFAULT_SETTINGS
from microfactory.planning.sequence import (
    SequenceDecoder,
    SequenceStats,
    initial_sequences,
    ranks_of,
    search,
    starting_points,
)
from microfactory.planning.solver import solve

from .test_properties import SETTINGS, problems

SCALE = 10**6


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.randoms(use_true_random=False),
)
def test_every_decoded_sequence_is_feasible(problem: Problem, rng: object) -> None:
    decoder = SequenceDecoder(problem, Objective.WEIGHTED_TARDINESS, SCALE)
    sequence = list(range(len(problem.jobs)))
    rng.shuffle(sequence)  # type: ignore[attr-defined]
    decoded = decoder.decode(ranks_of(sequence))
    assert decoded is not None
    plan = decoded.plan()
    assert check_plan(problem, plan) == []
    assert decoded.value == weighted_tardiness_of(problem, plan)  # recomputed independently


@SETTINGS
@given(problems(windows=True, setups=True, due_dates=True), st.integers(0, 40))
def test_operations_started_before_a_replan_stay_where_they_are(problem: Problem, now: int) -> None:
    base = dispatch(problem, "mwkr")
    assert base is not None
    changed = freeze_started(problem, base, now)
    decoded = SequenceDecoder(changed, Objective.WEIGHTED_TARDINESS, SCALE).decode(
        ranks_of(list(reversed(range(len(problem.jobs)))))
    )
    assert decoded is not None
    assert check_plan(changed, decoded.plan()) == []


def test_decoder_refuses_a_frozen_operation_after_one_that_is_not() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(),),
        operations=(Operation(job=0, modes=(Mode(0, 5),)), Operation(job=0, modes=(Mode(0, 2),))),
        precedences=((0, 1),),
        frozen=(FrozenOp(1, 0, 1),),
    )
    with pytest.raises(ValueError, match="frozen operation follows one that is not frozen"):
        SequenceDecoder(problem, Objective.WEIGHTED_TARDINESS, SCALE)


@pytest.fixture(scope="module")
def factory() -> Problem:
    """A 300-operation factory with due dates three times tighter than generated (the
    generated ones leave it almost without tardiness)."""
    problem = generate_factory(seed=3, target_ops=300)
    jobs = tuple(
        replace(job, due=job.release + (job.due - job.release) // 3)
        for job in problem.jobs
        if job.due is not None
    )
    return replace(problem, jobs=jobs)


def test_resuming_from_a_checkpoint_gives_the_same_plan_as_decoding_from_scratch(
    factory: Problem,
) -> None:
    decoder = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, SCALE)
    sequence = initial_sequences(factory)[0]
    first = decoder.decode(ranks_of(sequence))
    assert first is not None and len(first.checkpoints) > 5
    changed = list(sequence)
    k = len(changed) // 2
    changed[k], changed[k + 3] = changed[k + 3], changed[k]
    usable = [c for c in first.checkpoints if c.max_rank < k]
    assert usable and usable[-1].max_rank > 0  # a real resume, not from the start
    resumed = decoder.decode(ranks_of(changed), usable[-1])
    scratch = decoder.decode(ranks_of(changed))
    assert resumed is not None and scratch is not None
    assert resumed.plan() == scratch.plan()
    assert resumed.value == scratch.value


@pytest.mark.parametrize("objective", list(Objective))
def test_pruning_drops_exactly_the_sequences_worse_than_the_bound(
    factory: Problem, objective: Objective
) -> None:
    decoder = SequenceDecoder(factory, objective, SCALE)
    sequence = initial_sequences(factory)[0]
    full = decoder.decode(ranks_of(sequence))
    assert full is not None
    assert decoder.decode(ranks_of(sequence), bound=full.value) is not None
    assert decoder.decode(ranks_of(sequence), bound=full.value - 1) is None
    plan = full.plan()
    expected = {
        Objective.MAKESPAN: makespan_of(plan),
        Objective.WEIGHTED_TARDINESS: weighted_tardiness_of(factory, plan),
        Objective.TARDINESS_THEN_MAKESPAN: weighted_tardiness_of(factory, plan) * SCALE
        + makespan_of(plan),
    }[objective]
    assert full.value == expected


def _single_machine(processing: list[int], dues: list[int], weights: list[int]) -> Problem:
    return Problem(
        machines=(Machine(name="m"),),
        jobs=tuple(Job(due=d, weight=w) for d, w in zip(dues, weights, strict=True)),
        operations=tuple(Operation(job=j, modes=(Mode(0, p),)) for j, p in enumerate(processing)),
    )


def _brute_force_weighted_tardiness(
    processing: list[int], dues: list[int], weights: list[int]
) -> int:
    best = None
    for order in itertools.permutations(range(len(processing))):
        t = total = 0
        for j in order:
            t += processing[j]
            total += weights[j] * max(0, t - dues[j])
        best = total if best is None else min(best, total)
    assert best is not None
    return best


@pytest.mark.parametrize(
    ("processing", "dues", "weights"),
    [
        ([3, 4, 2, 5, 1, 6], [5, 6, 4, 12, 3, 10], [2, 1, 3, 1, 2, 4]),  # tight dues
        ([7, 2, 9, 4, 3, 5, 6], [9, 20, 15, 8, 30, 12, 18], [1, 3, 2, 5, 1, 2, 1]),
        ([2, 2, 2, 2, 2], [2, 4, 6, 8, 10], [1, 1, 1, 1, 1]),  # EDD is optimal: zero
    ],
)
def test_search_finds_the_optimum_of_small_single_machine_problems(
    processing: list[int], dues: list[int], weights: list[int]
) -> None:
    problem = _single_machine(processing, dues, weights)
    stats = SequenceStats()
    plan = search(problem, Objective.WEIGHTED_TARDINESS, 1.0, SCALE, seed=1, stats=stats)
    assert check_plan(problem, plan) == []
    optimum = _brute_force_weighted_tardiness(processing, dues, weights)
    assert weighted_tardiness_of(problem, plan) == optimum
    assert stats.candidates > 0


def test_search_improves_the_dispatch_plan_of_a_factory(factory: Problem) -> None:
    edd = dispatch(factory, "edd")
    assert edd is not None
    stats = SequenceStats()
    plan = search(
        factory, Objective.WEIGHTED_TARDINESS, 2.0, SCALE, seed=0, plans=[edd], stats=stats
    )
    assert check_plan(factory, plan) == []
    assert weighted_tardiness_of(factory, plan) < weighted_tardiness_of(factory, edd)
    values = [v for _, v in stats.history]
    assert values == sorted(values, reverse=True) and stats.improvements == len(values) - 1


def test_starting_points_are_distinct_best_first_and_include_the_given_sequences(
    factory: Problem,
) -> None:
    decoder = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, SCALE)
    given_sequences = initial_sequences(factory)
    points = starting_points(decoder, given_sequences, deadline=float("inf"))
    values = [value for value, _ in points]
    assert values == sorted(values)
    assert len({tuple(s) for _, s in points}) == len(points)
    for sequence in given_sequences:
        decoded = decoder.decode(ranks_of(sequence))
        assert decoded is not None
        assert (decoded.value, sequence) in points
        assert points[0][0] <= decoded.value


@pytest.mark.slow
def test_parallel_rounds_return_a_feasible_plan_no_worse_than_the_best_start(
    factory: Problem,
) -> None:
    stats = SequenceStats()
    plan = search(
        factory,
        Objective.WEIGHTED_TARDINESS,
        DEFAULT_SETTINGS.sequence_parallel_min_seconds,
        SCALE,
        seed=0,
        stats=stats,
        workers=2,
    )
    assert check_plan(factory, plan) == []
    assert weighted_tardiness_of(factory, plan) <= stats.history[0][1]
    assert stats.candidates > 0  # the workers' counts came back from their processes


def test_solve_uses_sequence_search_on_large_due_date_instances() -> None:
    problem = generate_factory(seed=1, target_ops=1300)  # above the monolithic model's limit
    result = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=4, workers=1)
    # window LNS runs on only when the machine-order search left it 0.1 s (not under load)
    assert result.solver.startswith("sequence+reorder")
    assert check_plan(problem, result.assignments) == []
    edd = dispatch(problem, "edd")
    assert edd is not None
    assert (result.weighted_tardiness or 0) <= weighted_tardiness_of(problem, edd)


def test_decoder_rejects_an_operation_without_modes() -> None:
    problem = Problem(
        machines=(Machine(),), jobs=(Job(),), operations=(Operation(job=0, modes=()),)
    )
    with pytest.raises(ValueError, match="at least one mode"):
        SequenceDecoder(problem, Objective.MAKESPAN, SCALE)
