"""Hypothesis properties of operators together with pins and rush (issue 24: "no plan ever
violates a pin, a shift or a skill"), on random small shops with a crew:

* with machine pins (some with a start), every dispatching rule, the repair of a previous
  plan, window LNS and the whole `solve` strategy keep every pin, and the independent
  checker finds no skill, shift, load or pin violation;
* with a rush job, the full solver and the dispatch strategy give checker-clean plans, and
  the rush job's operations end no later than without rush, people and all;
* the checker itself sees a broken crew: an operator without the skill, or attended work
  moved into the operator's off-shift time, is reported (so the properties above can fail).
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import safe_horizon
from microfactory.planning.crew import staff
from microfactory.planning.heuristics import RULES, dispatch, repair
from microfactory.planning.lns import improve
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
    Pin,
    Problem,
)
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.solver import best_dispatch, solve

from .test_crew_properties import crewed_problems

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pinned_crewed_problems(draw: st.DrawFn) -> Problem:
    """A shop with a crew and machine pins; on some pins a start taken from a plan that
    respects the crew and the machine pins (so a plan keeping every pin exists)."""
    problem = draw(crewed_problems())
    chosen = sorted(draw(st.sets(st.integers(0, problem.n_ops - 1), min_size=1)))
    machine_pins = tuple(
        Pin(op, draw(st.sampled_from([m.machine for m in problem.operations[op].modes])))
        for op in chosen
    )
    base = dispatch(replace(problem, pins=machine_pins), "mwkr")
    assert base is not None
    with_start = draw(st.sets(st.sampled_from(chosen)))
    pins = tuple(
        Pin(p.op, p.machine, base[p.op].start if p.op in with_start else None) for p in machine_pins
    )
    return replace(problem, pins=pins)


def _clean(problem: Problem, plan: list[Assignment] | tuple[Assignment, ...] | None) -> None:
    assert plan is not None
    assert check_plan(problem, list(plan)) == []


@SETTINGS
@given(pinned_crewed_problems())
def test_no_dispatching_rule_or_repair_violates_a_pin_a_shift_or_a_skill(problem: Problem) -> None:
    """A serial scheme has no look-ahead: with a start pin it may fail to place what must
    come before the pinned operation in time, and then gives no plan (None) rather than one
    that breaks the routing; a plan it gives is clean, and so is the dispatch strategy's
    best."""
    plans = [dispatch(problem, rule) for rule in RULES]
    for plan in plans:
        if plan is not None:
            _clean(problem, plan)
    unpinned = dispatch(replace(problem, pins=()), "edd")
    assert unpinned is not None
    previous = {a.op: a for a in unpinned}
    for reserve in (True, False):
        repaired = repair(problem, previous, reserve=reserve)
        if repaired is not None:
            _clean(problem, repaired)
    best, _ = best_dispatch(problem, Objective.WEIGHTED_TARDINESS, safe_horizon(problem, None) + 1)
    if best is not None:
        _clean(problem, best)


@SETTINGS
@given(pinned_crewed_problems(), st.booleans())
def test_solve_and_lns_keep_pins_shifts_and_skills(problem: Problem, windowed: bool) -> None:
    for objective in (Objective.MAKESPAN, Objective.WEIGHTED_TARDINESS):
        result = solve(problem, objective, time_limit=1, workers=1)
        assert result.has_plan, result.reason
        _clean(problem, result.assignments)
    start = dispatch(problem, "edd")
    if start is None:  # a serial scheme may not keep every start pin: the solver's plan
        start = list(result.assignments)
    better = improve(
        problem, start, Objective.WEIGHTED_TARDINESS, 0.5, 1, seed=1, windowed=windowed
    )
    _clean(problem, better)


@SETTINGS
@given(crewed_problems(), st.data())
def test_a_rush_job_in_a_crewed_shop_gets_a_clean_plan_and_ends_no_later(
    problem: Problem, data: st.DataObject
) -> None:
    base = dispatch(problem, "spt")
    assert base is not None
    started = freeze_started(problem, base, data.draw(st.integers(0, 10)))
    rushed = data.draw(st.integers(0, len(started.jobs) - 1))
    jobs = tuple(replace(job, rush=(j == rushed)) for j, job in enumerate(started.jobs))
    rush = replace(started, jobs=jobs)
    result = solve(rush, Objective.WEIGHTED_TARDINESS, 1, 1)
    assert result.has_plan, result.reason
    _clean(rush, result.assignments)
    without = {a.op: a for a in solve(started, Objective.WEIGHTED_TARDINESS, 1, 1).assignments}
    for a in result.assignments:
        if rush.operations[a.op].job == rushed:
            assert a.end <= without[a.op].end, (a, without[a.op])
    plan, _ = best_dispatch(rush, Objective.WEIGHTED_TARDINESS, safe_horizon(rush, None) + 1)
    _clean(rush, plan)


@SETTINGS
@given(crewed_problems(), st.data())
def test_the_checker_reports_an_operator_without_the_skill(
    problem: Problem, data: st.DataObject
) -> None:
    plan = dispatch(problem, "edd")
    assert plan is not None
    candidates = [
        (a, k)
        for a in plan
        if (crew := problem.operations[a.op].crew) is not None
        for k, person in enumerate(problem.operators)
        if crew.skill not in person.skills
    ]
    assume(candidates)
    a, k = data.draw(st.sampled_from(candidates))
    broken = [replace(b, operator=k) if b.op == a.op else b for b in plan]
    skill = problem.operations[a.op].crew.skill  # type: ignore[union-attr]
    assert f"op {a.op}: operator {k} lacks skill {skill!r}" in check_plan(problem, broken)


@SETTINGS
@given(crewed_problems(), st.data())
def test_the_checker_reports_attended_work_off_shift(problem: Problem, data: st.DataObject) -> None:
    """Move an attended operation so that its first busy segment starts inside one of its
    operator's off-shift windows: whatever else breaks, the shift is reported."""
    plan = dispatch(problem, "edd")
    assert plan is not None
    candidates = []
    for a in plan:
        crew = problem.operations[a.op].crew
        if crew is None or a.operator is None:
            continue
        lo, _ = crew.segments(a.end - a.start)[0]
        for window in problem.operators[a.operator].unavailable:
            candidates.append((a, window.start - lo, window))
    candidates = [(a, start, w) for a, start, w in candidates if start >= 0]
    assume(candidates)
    a, start, window = data.draw(st.sampled_from(candidates))
    moved = replace(a, start=start, end=start + (a.end - a.start))
    broken = [moved if b.op == a.op else b for b in plan]
    off = f"off shift [{window.start},{window.end})"
    assert any(
        e.startswith(f"operator {a.operator}: op {a.op}") and off in e
        for e in check_plan(problem, broken)
    )


def _two_pinned(people: tuple[Operator, ...]) -> Problem:
    """A CNC operation pinned at 9-12 and a print job pinned at 11-15 on another machine."""
    return Problem(
        machines=(Machine(name="m0"), Machine(name="m1")),
        jobs=(Job(due=20), Job(due=20)),
        operations=(
            Operation(job=0, modes=(Mode(0, 3),), crew=Crew("cnc", Attendance.RUN)),
            Operation(job=1, modes=(Mode(1, 4),), crew=Crew("print", Attendance.RUN)),
        ),
        frozen=(FrozenOp(0, 0, 9), FrozenOp(1, 1, 11)),
        operators=people,
    )


def test_pinned_work_is_staffed_scarcest_skill_first_by_the_least_versatile() -> None:
    """Found by the property above: the only person who can print also knows CNC. Staffing
    the pinned CNC job first with the first qualified person left nobody for the pinned
    print job, and every serial scheme then put that person on both at once."""
    problem = _two_pinned(
        (
            Operator(name="all-round", skills=frozenset({"cnc", "print"})),
            Operator(name="machinist", skills=frozenset({"cnc"})),
        )
    )
    expected = [(0, 1), (1, 0)]  # CNC by the machinist, print by the all-rounder
    for rule in RULES:
        plan = dispatch(problem, rule)
        _clean(problem, plan)
        assert plan is not None and [(a.op, a.operator) for a in plan] == expected, rule
    repaired = repair(problem, {})
    _clean(problem, repaired)
    staffed = staff(problem, [Assignment(0, 0, 9, 12), Assignment(1, 1, 11, 15)])
    assert check_plan(problem, staffed) == []
    assert [(a.op, a.operator) for a in staffed] == expected


def test_a_serial_scheme_gives_no_plan_rather_than_one_person_doing_two_things() -> None:
    problem = _two_pinned((Operator(name="alone", skills=frozenset({"cnc", "print"})),))
    for rule in RULES:
        assert dispatch(problem, rule) is None, rule
    assert repair(problem, {}) is None
    result = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=1, workers=1)
    assert not result.has_plan  # both are fixed in time and overlap: there is none
