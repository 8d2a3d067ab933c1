"""The compiled decoder and search (`fastseq`) against the readable reference decoder
(`sequence.SequenceDecoder`): the same plans, the same pruning, and every sequence the
compiled search returns decodes (independently) to the value it reports."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microfactory.planning.checker import check_plan
from microfactory.planning.fastseq import FastDecoder
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.result import weighted_tardiness_of
from microfactory.planning.sequence import SequenceDecoder, initial_sequences, ranks_of, warm

from .test_properties import SETTINGS, problems

SCALE = 10**6


def _rows(plan: list[Assignment]) -> list[tuple[int, int, int]]:
    return [(a.machine, a.start, a.end) for a in sorted(plan, key=lambda a: a.op)]


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.sampled_from(list(Objective)),
    st.randoms(use_true_random=False),
)
def test_compiled_decoder_gives_the_reference_plan(
    problem: Problem, objective: Objective, rng: object
) -> None:
    reference = SequenceDecoder(problem, objective, SCALE)
    fast = FastDecoder(reference)
    for _ in range(3):
        sequence = list(range(len(problem.jobs)))
        rng.shuffle(sequence)  # type: ignore[attr-defined]
        expected = reference.decode(ranks_of(sequence))
        assert expected is not None
        value, _, _ = fast.decode(ranks_of(sequence))
        assert value == expected.value
        assert _rows(fast.plan(ranks_of(sequence))) == _rows(expected.plan())
        # pruning: kept at the value itself, dropped one below, as the reference does
        assert fast.decode(ranks_of(sequence), bound=expected.value)[0] == expected.value
        if expected.value > 0:
            assert fast.decode(ranks_of(sequence), bound=expected.value - 1)[0] is None
            assert reference.decode(ranks_of(sequence), bound=expected.value - 1) is None


@SETTINGS
@given(problems(windows=True, setups=True, due_dates=True), st.integers(0, 40))
def test_compiled_decoder_keeps_started_operations_and_matches_the_reference(
    problem: Problem, now: int
) -> None:
    base = dispatch(problem, "mwkr")
    assert base is not None
    changed = freeze_started(problem, base, now)
    reference = SequenceDecoder(changed, Objective.WEIGHTED_TARDINESS, SCALE)
    rank = ranks_of(list(reversed(range(len(problem.jobs)))))
    plan = FastDecoder(reference).plan(rank)
    expected = reference.decode(rank)
    assert expected is not None
    assert _rows(plan) == _rows(expected.plan())
    assert check_plan(changed, plan) == []


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.integers(0, 2**31),
)
def test_compiled_search_reports_the_true_value_of_its_sequence(
    problem: Problem, seed: int
) -> None:
    """The search resumes candidates from checkpoints: a wrong checkpoint would show as a
    reported value that a decode from scratch (by the reference) does not reproduce."""
    if len(problem.jobs) < 2:
        return
    reference = SequenceDecoder(problem, Objective.WEIGHTED_TARDINESS, SCALE)
    start = list(range(len(problem.jobs)))
    first = reference.decode(ranks_of(start))
    assert first is not None
    found, value, (candidates, pruned, _) = FastDecoder(reference).descend(
        start, time.perf_counter(), seed, 5
    )
    assert sorted(found) == start
    again = reference.decode(ranks_of(found))
    assert again is not None and again.value == value
    assert value <= first.value
    assert candidates >= 1 and 0 <= pruned <= candidates
    assert check_plan(problem, again.plan()) == []


@pytest.fixture(scope="module")
def factory() -> Problem:
    return generate_factory(0, 400)


def test_compiled_search_on_a_factory_resumes_correctly_and_improves(factory: Problem) -> None:
    reference = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, SCALE)
    start = initial_sequences(factory)[0]
    first = reference.decode(ranks_of(start))
    assert first is not None and first.value > 0
    fast = FastDecoder(reference)
    found, value, (candidates, pruned, improvements) = fast.descend(
        start, time.perf_counter() + 1.0, 3, 30
    )
    again = reference.decode(ranks_of(found))
    assert again is not None
    assert again.value == value == weighted_tardiness_of(factory, again.plan())
    assert value < first.value and improvements > 0
    assert candidates > 100 and pruned > 0  # checkpoints and pruning were exercised
    # the same seed walks the same way: the first chunk gives the same sequence
    one = fast.descend(start, time.perf_counter(), 11, 30)
    two = fast.descend(start, time.perf_counter(), 11, 30)
    assert one == two


def test_warm_compiles_once() -> None:
    warm()
    assert warm() == 0.0


def test_warm_all_warms_every_kernel_group_once() -> None:
    from microfactory.planning.kernels import warm_groups
    from microfactory.planning.warmup import warm_all

    warm_all()
    assert set(warm_groups()) >= {"sequence", "reorder", "tabu"}
    assert warm_all() == 0.0


def test_fastseq_does_not_import_sequence() -> None:
    """The compiled decoder reads the reference decoder through a protocol: no cycle."""
    import ast
    import inspect

    from microfactory.planning import fastseq

    tree = ast.parse(inspect.getsource(fastseq))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "microfactory.planning.sequence" not in imported


@SETTINGS
@given(
    problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.randoms(use_true_random=False),
)
def test_a_candidate_resumed_from_a_checkpoint_is_decoded_as_from_scratch(
    problem: Problem, rng: object
) -> None:
    jobs = len(problem.jobs)
    if jobs < 3:
        return
    reference = SequenceDecoder(problem, Objective.TARDINESS_THEN_MAKESPAN, SCALE)
    fast = FastDecoder(reference)
    sequence = list(range(jobs))
    rng.shuffle(sequence)  # type: ignore[attr-defined]
    for first in range(jobs - 1):
        other = rng.randrange(first + 1, jobs)  # type: ignore[attr-defined]
        candidate = list(sequence)
        candidate[first], candidate[other] = candidate[other], candidate[first]
        value, plan, _ = fast.decode_after(ranks_of(sequence), ranks_of(candidate), first)
        expected = reference.decode(ranks_of(candidate))
        assert expected is not None
        assert value == expected.value
        assert [tuple(row) for row in plan.tolist()] == _rows(expected.plan())


def test_a_factory_candidate_really_resumes_from_a_checkpoint(factory: Problem) -> None:
    reference = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, SCALE)
    fast = FastDecoder(reference)
    sequence = initial_sequences(factory)[0]
    resumed_after = []
    for first in range(0, len(sequence) - 1, 7):
        candidate = list(sequence)
        later = max(first + 1, len(sequence) - 1 - first // 3)  # a later job forward
        candidate.insert(first, candidate.pop(later))
        value, plan, k = fast.decode_after(ranks_of(sequence), ranks_of(candidate), first)
        expected = reference.decode(ranks_of(candidate))
        assert expected is not None
        assert (value, [tuple(r) for r in plan.tolist()]) == (
            expected.value,
            _rows(expected.plan()),
        )
        resumed_after.append(k)
    assert max(resumed_after) > 3  # later candidates skip most of the decoding
