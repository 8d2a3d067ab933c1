"""The solver on instances with known optimal answers."""

from __future__ import annotations

from pathlib import Path

from microfactory.planning.checker import check_plan
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
)
from microfactory.planning.readers import read_instance
from microfactory.planning.result import Status
from microfactory.planning.solver import solve


def single_machine(durations: list[int], windows: tuple[Window, ...] = ()) -> Problem:
    """One machine, one single-operation job per duration."""
    return Problem(
        machines=(Machine(name="m0", unavailable=windows),),
        jobs=tuple(Job(name=f"j{k}") for k in range(len(durations))),
        operations=tuple(
            Operation(job=k, modes=(Mode(0, d),), name=f"o{k}") for k, d in enumerate(durations)
        ),
    )


def test_ft06_is_solved_to_the_published_optimum_55(jssp_dir: Path) -> None:
    problem = read_instance(jssp_dir / "ft06.txt")
    result = solve(problem, Objective.MAKESPAN, time_limit=30, workers=2)
    assert result.status is Status.OPTIMAL
    assert result.makespan == 55
    assert check_plan(problem, result.assignments) == []


def test_mk01_is_solved_to_the_published_optimum_40(fjsp_dir: Path) -> None:
    problem = read_instance(fjsp_dir / "mk01.fjs")
    result = solve(problem, Objective.MAKESPAN, time_limit=30, workers=2)
    assert (result.status, result.makespan) == (Status.OPTIMAL, 40)
    assert check_plan(problem, result.assignments) == []


def test_operation_moves_past_a_maintenance_window() -> None:
    # 5 units cannot fit before the window [2, 10): it starts at 10
    problem = single_machine([5], (Window(2, 10),))
    result = solve(problem, Objective.MAKESPAN, time_limit=5)
    assert result.makespan == 15
    assert result.assignments[0].start == 10


def test_setups_pick_the_order_with_fewer_changeovers() -> None:
    # families a, b, a: grouping the two a's costs one changeover (10) instead of two
    problem = Problem(
        machines=(Machine(setups={("a", "b"): 10, ("b", "a"): 10}),),
        jobs=(Job(), Job(), Job()),
        operations=(
            Operation(job=0, modes=(Mode(0, 1),), family="a"),
            Operation(job=1, modes=(Mode(0, 1),), family="b"),
            Operation(job=2, modes=(Mode(0, 1),), family="a"),
        ),
    )
    result = solve(problem, Objective.MAKESPAN, time_limit=5)
    assert (result.status, result.makespan) == (Status.OPTIMAL, 13)


def test_release_delays_the_start() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(release=4),),
        operations=(Operation(job=0, modes=(Mode(0, 3),)),),
    )
    assert solve(problem, Objective.MAKESPAN, time_limit=5).makespan == 7


def test_weighted_tardiness_runs_the_heavy_job_first() -> None:
    # A: 3 units, due 3, weight 1; B: 5 units, due 5, weight 10.
    # B first: A ends at 8, 5 late -> 5. A first: B ends at 8, 3 late x 10 -> 30.
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(due=3, weight=1), Job(due=5, weight=10)),
        operations=(Operation(job=0, modes=(Mode(0, 3),)), Operation(job=1, modes=(Mode(0, 5),))),
    )
    result = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=5)
    assert (result.status, result.objective, result.weighted_tardiness) == (Status.OPTIMAL, 5, 5)


def test_lexicographic_objective_breaks_tardiness_ties_by_makespan() -> None:
    # nobody can be late (due dates far away); the fast machine gives makespan 2, not 9
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=(Job(due=100),),
        operations=(Operation(job=0, modes=(Mode(0, 9), Mode(1, 2))),),
    )
    result = solve(problem, Objective.TARDINESS_THEN_MAKESPAN, time_limit=5)
    assert (result.weighted_tardiness, result.makespan) == (0, 2)


def test_frozen_operation_keeps_machine_and_start() -> None:
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=(Job(), Job()),
        operations=(
            Operation(job=0, modes=(Mode(0, 4), Mode(1, 4))),
            Operation(job=1, modes=(Mode(0, 4), Mode(1, 4))),
        ),
        frozen=(FrozenOp(0, 1, 7),),
    )
    result = solve(problem, Objective.MAKESPAN, time_limit=5)
    assert result.assignments[0] == Assignment(0, 1, 7, 11)
    assert check_plan(problem, result.assignments) == []


def test_stability_term_keeps_the_previous_plan_when_it_costs_nothing() -> None:
    # two identical machines; the previous plan put op 0 on m1 and op 1 on m0
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=(Job(), Job()),
        operations=(
            Operation(job=0, modes=(Mode(0, 4), Mode(1, 4))),
            Operation(job=1, modes=(Mode(0, 4), Mode(1, 4))),
        ),
    )
    previous = {0: Assignment(0, 1, 0, 4), 1: Assignment(1, 0, 0, 4)}
    result = solve(
        problem, Objective.MAKESPAN, time_limit=5, previous=previous, stability_weight=100
    )
    assert result.assignments == (previous[0], previous[1])


def test_operation_without_machine_is_infeasible_with_a_reason() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(),),
        operations=(Operation(job=0, modes=(), name="paint"),),
    )
    result = solve(problem, Objective.MAKESPAN, time_limit=5)
    assert result.status is Status.INFEASIBLE
    assert "paint" in result.reason
    assert result.assignments == ()


def test_conflicting_frozen_operations_are_infeasible_not_an_exception() -> None:
    problem = Problem(
        machines=(Machine(),),
        jobs=(Job(), Job()),
        operations=(Operation(job=0, modes=(Mode(0, 4),)), Operation(job=1, modes=(Mode(0, 4),))),
        frozen=(FrozenOp(0, 0, 0), FrozenOp(1, 0, 2)),
    )
    result = solve(problem, Objective.MAKESPAN, time_limit=5)
    assert result.status is Status.INFEASIBLE
    assert result.reason
