"""The independent checker finds each kind of violation in hand-made plans."""

from __future__ import annotations

from microfactory.planning.checker import check_plan
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Job,
    Machine,
    Mode,
    Operation,
    Problem,
    Window,
)


def _problem() -> Problem:
    # job 0: op0 (m0, 3) -> op1 (m1, 2); job 1: op2 (m0 or m1, 4), family "b", release 1
    return Problem(
        machines=(
            Machine(name="m0", unavailable=(Window(20, 30),), setups={("a", "b"): 2}),
            Machine(name="m1"),
        ),
        jobs=(Job(name="j0"), Job(name="j1", release=1)),
        operations=(
            Operation(job=0, modes=(Mode(0, 3),), family="a"),
            Operation(job=0, modes=(Mode(1, 2),)),
            Operation(job=1, modes=(Mode(0, 4), Mode(1, 4)), family="b"),
        ),
        precedences=((0, 1),),
    )


GOOD = [Assignment(0, 0, 0, 3), Assignment(1, 1, 3, 5), Assignment(2, 0, 5, 9)]


def test_feasible_plan_has_no_violation() -> None:
    assert check_plan(_problem(), GOOD) == []


def test_missing_operation_is_reported() -> None:
    assert any("not scheduled" in e for e in check_plan(_problem(), GOOD[:2]))


def test_wrong_duration_is_reported() -> None:
    plan = [GOOD[0], GOOD[1], Assignment(2, 0, 5, 8)]
    assert any("needs 4" in e for e in check_plan(_problem(), plan))


def test_machine_outside_modes_is_reported() -> None:
    plan = [Assignment(0, 1, 0, 3), GOOD[1], GOOD[2]]
    assert any("not one of its modes" in e for e in check_plan(_problem(), plan))


def test_precedence_violation_is_reported() -> None:
    plan = [GOOD[0], Assignment(1, 1, 2, 4), GOOD[2]]
    assert any("precedence 0->1" in e for e in check_plan(_problem(), plan))


def test_release_violation_is_reported() -> None:
    plan = [Assignment(0, 0, 4, 7), Assignment(1, 1, 7, 9), Assignment(2, 1, 0, 4)]
    assert any("release 1" in e for e in check_plan(_problem(), plan))


def test_overlap_is_reported() -> None:
    plan = [GOOD[0], GOOD[1], Assignment(2, 0, 2, 6)]
    assert any("overlap" in e for e in check_plan(_problem(), plan))


def test_missing_setup_is_reported() -> None:
    # family a -> b on m0 needs 2 time units between op0 (ends 3) and op2
    plan = [GOOD[0], GOOD[1], Assignment(2, 0, 4, 8)]
    assert any("setup" in e for e in check_plan(_problem(), plan))


def test_window_overlap_is_reported() -> None:
    plan = [GOOD[0], GOOD[1], Assignment(2, 0, 18, 22)]
    assert any("unavailability" in e for e in check_plan(_problem(), plan))


def test_moved_frozen_operation_is_reported() -> None:
    problem = Problem(
        machines=_problem().machines,
        jobs=_problem().jobs,
        operations=_problem().operations,
        precedences=_problem().precedences,
        frozen=(FrozenOp(2, 1, 6),),
    )
    assert any("frozen" in e for e in check_plan(problem, GOOD))
