"""Operators as secondary resources: the model's rules, the checker, and what the solvers
make of a crew that binds."""

from __future__ import annotations

import pytest

from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import solve_cpsat
from microfactory.planning.crew import CrewBoard
from microfactory.planning.generator import generate_factory, with_operators
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    Assignment,
    Attendance,
    Crew,
    FrozenOp,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Operator,
    Problem,
    Window,
)
from microfactory.planning.result import Status
from microfactory.planning.solver import solve


def _shop(crews: list[Crew | None], people: list[Operator], durations: int = 4) -> Problem:
    """One job per crew need, each on its own machine (so only people can make them wait)."""
    return Problem(
        machines=tuple(Machine(name=f"m{k}") for k in range(len(crews))),
        jobs=tuple(Job(name=f"j{k}") for k in range(len(crews))),
        operations=tuple(
            Operation(job=k, modes=(Mode(k, durations),), name=f"o{k}", crew=crew)
            for k, crew in enumerate(crews)
        ),
        operators=tuple(people),
    )


ANNA = Operator("anna", frozenset({"cnc", "print"}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skill": ""}, "names its skill"),  # a need without a skill
        ({"skill": "cnc", "setup": -1}, "setup and unload"),  # negative setup
        ({"skill": "cnc", "attendance": Attendance.SHARE, "share": 0}, "between 1 and 100"),
        ({"skill": "cnc", "attendance": Attendance.SETUP}, "setup or an unload"),  # no time
        ({"skill": "cnc", "share": 50}, "needs attendance 'share'"),  # share on a full run
    ],
)
def test_invalid_crew_needs_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Crew(**kwargs)  # type: ignore[arg-type]


def test_overlapping_shift_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match="operator unavailability windows must not overlap"):
        Operator("bob", frozenset({"cnc"}), (Window(0, 10), Window(5, 12)))


@pytest.mark.parametrize(
    ("crew", "duration", "segments"),
    [
        (Crew("cnc"), 10, ((0, 10),)),  # the whole run
        (Crew("p", Attendance.SETUP, setup=2, unload=3), 10, ((0, 2), (7, 10))),
        (Crew("p", Attendance.SETUP, setup=6, unload=5), 10, ((0, 10),)),  # no gap left
        (Crew("p", Attendance.SETUP, unload=3), 10, ((7, 10),)),  # unload only
        (Crew("l", Attendance.SHARE, share=50), 10, ((0, 10),)),
    ],
)
def test_crew_segments(crew: Crew, duration: int, segments: tuple[tuple[int, int], ...]) -> None:
    assert crew.segments(duration) == segments


def test_checker_flags_a_missing_or_unqualified_operator() -> None:
    problem = _shop([Crew("cnc"), Crew("weld")], [ANNA, Operator("carl", frozenset({"weld"}))])
    errors = check_plan(problem, [Assignment(0, 0, 0, 4), Assignment(1, 1, 0, 4, 0)])
    assert any("needs an operator with skill 'cnc'" in e for e in errors)
    assert any("operator 0 lacks skill 'weld'" in e for e in errors)


def test_checker_flags_work_off_shift() -> None:
    problem = _shop([Crew("cnc")], [Operator("anna", frozenset({"cnc"}), (Window(2, 8),))])
    errors = check_plan(problem, [Assignment(0, 0, 0, 4, 0)])
    assert errors == ["operator 0: op 0 needs them in [0,4), off shift [2,8)"]
    assert check_plan(problem, [Assignment(0, 0, 8, 12, 0)]) == []


def test_checker_flags_one_person_at_two_machines() -> None:
    problem = _shop([Crew("cnc"), Crew("cnc")], [ANNA])
    errors = check_plan(problem, [Assignment(0, 0, 0, 4, 0), Assignment(1, 1, 2, 6, 0)])
    assert errors == ["operator 0: op 1 overlaps op(s) 0 (load 200)"]
    assert check_plan(problem, [Assignment(0, 0, 0, 4, 0), Assignment(1, 1, 4, 8, 0)]) == []


def test_shared_loads_may_overlap_up_to_one_person() -> None:
    half = Crew("cnc", Attendance.SHARE, share=50)
    problem = _shop([half, half, half], [ANNA])
    two = [Assignment(0, 0, 0, 4, 0), Assignment(1, 1, 0, 4, 0), Assignment(2, 2, 4, 8, 0)]
    assert check_plan(problem, two) == []
    three = [Assignment(k, k, 0, 4, 0) for k in range(3)]
    assert any("load 150" in e for e in check_plan(problem, three))


def test_an_unattended_run_needs_the_person_only_for_setup_and_unload() -> None:
    printing = Crew("print", Attendance.SETUP, setup=1, unload=1)
    problem = _shop([printing, Crew("cnc")], [ANNA], durations=10)
    # the mill runs while the printer prints on its own
    plan = [Assignment(0, 0, 0, 10, 0), Assignment(1, 1, 1, 11, 0)]
    assert any("overlaps" in e for e in check_plan(problem, plan))  # unload at 9 clashes
    assert check_plan(problem, [Assignment(0, 0, 0, 10, 0), Assignment(1, 1, 10, 20, 0)]) == []
    result = solve_cpsat(problem, Objective.MAKESPAN, time_limit=5, workers=1)
    assert result.status is Status.OPTIMAL
    assert result.makespan == 20  # the mill can't fit inside the print: 10 min + 1 + 1 > 10 - 2
    assert check_plan(problem, result.assignments) == []


def test_one_operator_serialises_work_on_idle_machines() -> None:
    problem = _shop([Crew("cnc")] * 3, [ANNA])
    plan = dispatch(problem, "spt")
    assert plan is not None and check_plan(problem, plan) == []
    assert max(a.end for a in plan) == 12
    result = solve(problem, Objective.MAKESPAN, time_limit=2, workers=1)
    assert result.status is Status.OPTIMAL and result.makespan == 12


def test_a_second_qualified_operator_halves_the_makespan() -> None:
    problem = _shop([Crew("cnc")] * 4, [ANNA, Operator("bob", frozenset({"cnc"}))])
    result = solve(problem, Objective.MAKESPAN, time_limit=2, workers=1)
    assert result.makespan == 8
    assert {a.operator for a in result.assignments} == {0, 1}


def test_work_waits_for_the_shift_to_start() -> None:
    late_shift = Operator("nina", frozenset({"cnc"}), (Window(0, 100),))
    problem = _shop([Crew("cnc"), None], [late_shift])
    plan = dispatch(problem, "edd")
    assert plan is not None
    assert (plan[0].start, plan[0].operator) == (100, 0)
    assert (plan[1].start, plan[1].operator) == (0, None)  # needs nobody


def test_a_skill_nobody_has_is_an_infeasible_result_not_a_crash() -> None:
    problem = _shop([Crew("weld")], [ANNA])
    result = solve(problem, Objective.MAKESPAN, time_limit=1, workers=1)
    assert result.status is Status.INFEASIBLE
    assert "needs skill 'weld'" in result.reason
    assert dispatch(problem, "edd") is None


def test_a_frozen_operation_keeps_its_operator() -> None:
    bob = Operator("bob", frozenset({"cnc"}))
    problem = _shop([Crew("cnc"), Crew("cnc")], [ANNA, bob])
    pinned = Problem(
        machines=problem.machines,
        jobs=problem.jobs,
        operations=problem.operations,
        frozen=(FrozenOp(0, 0, 0, operator=1),),
        operators=problem.operators,
    )
    result = solve(pinned, Objective.MAKESPAN, time_limit=1, workers=1)
    assert result.assignments[0].operator == 1
    assert check_plan(pinned, result.assignments) == []
    with pytest.raises(ValueError, match="unqualified operator"):
        Problem(
            machines=problem.machines,
            jobs=problem.jobs,
            operations=problem.operations,
            frozen=(FrozenOp(0, 0, 0, operator=5),),
            operators=problem.operators,
        )


def test_board_jumps_to_the_first_free_time_of_the_first_free_person() -> None:
    problem = _shop(
        [Crew("cnc"), Crew("cnc")],
        [Operator("a", frozenset({"cnc"}), (Window(0, 30),)), Operator("b", frozenset({"cnc"}))],
    )
    board = CrewBoard(problem)
    board.place(0, 1, 0, 20)
    assert board.earliest(1, 5, 0) == (20, 1)
    assert board.earliest(1, 15, 0) == (20, 1)
    assert board.earliest(1, 5, 0, prefer=0) == (20, 1)


def test_generated_factory_with_a_crew_gets_a_feasible_plan() -> None:
    problem = with_operators(generate_factory(seed=3, target_ops=200, days=14), people=6, days=14)
    assert problem.has_crew and len(problem.operators) == 6
    result = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=3, workers=1)
    assert result.has_plan, result.reason
    assert check_plan(problem, result.assignments) == []
