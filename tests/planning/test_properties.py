"""Each constraint family holds on random small instances, checked by the independent
checker (which shares no code with the solvers)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microfactory.planning.checker import check_plan
from microfactory.planning.heuristics import RULES, dispatch
from microfactory.planning.model import (
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
from microfactory.planning.solver import solve

FAMILIES = ("a", "b", "c")
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    merges: bool = False,
    windows: bool = False,
    setups: bool = False,
    releases: bool = False,
    due_dates: bool = False,
) -> Problem:
    n_machines = draw(st.integers(1, 3))
    n_jobs = draw(st.integers(1, 4))
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    jobs: list[Job] = []
    for j in range(n_jobs):
        ids = []
        for _ in range(draw(st.integers(1, 3))):
            machines = draw(st.sets(st.integers(0, n_machines - 1), min_size=1))
            modes = tuple(Mode(m, draw(st.integers(1, 6))) for m in sorted(machines))
            family = draw(st.sampled_from(FAMILIES)) if setups else ""
            release = draw(st.integers(0, 8)) if releases else 0
            ids.append(len(operations))
            operations.append(Operation(job=j, modes=modes, family=family, release=release))
        job_ops.append(ids)
        due = draw(st.integers(0, 25)) if due_dates else None
        jobs.append(Job(release=draw(st.integers(0, 5)) if releases else 0, due=due))
    precedences = list(chain_precedences(job_ops))
    if merges and n_jobs > 1:
        # assembly: the last op of a job feeds an op of a later job (index order keeps a DAG)
        for j in range(n_jobs - 1):
            if draw(st.booleans()):
                precedences.append((job_ops[j][-1], draw(st.sampled_from(job_ops[j + 1]))))
    machine_list = []
    for m in range(n_machines):
        blocked: tuple[Window, ...] = ()
        if windows:
            starts = sorted(draw(st.sets(st.integers(0, 30), max_size=2)))
            spans = [Window(s, s + draw(st.integers(1, 6))) for s in starts]
            blocked = tuple(w for k, w in enumerate(spans) if k == 0 or spans[k - 1].end <= w.start)
        table = {}
        if setups:
            for src in FAMILIES:
                for dst in FAMILIES:
                    if src != dst:
                        table[(src, dst)] = draw(st.integers(0, 4))
        machine_list.append(Machine(name=f"m{m}", unavailable=blocked, setups=table))
    return Problem(
        machines=tuple(machine_list),
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple(precedences),
    )


def _assert_solved_feasibly(problem: Problem, objective: Objective = Objective.MAKESPAN) -> None:
    result = solve(problem, objective, time_limit=2, workers=1)
    assert result.has_plan, result.reason
    assert check_plan(problem, result.assignments) == []


@SETTINGS
@given(problems(merges=True))
def test_precedence_dag_with_assembly_merges_is_respected(problem: Problem) -> None:
    _assert_solved_feasibly(problem)


@SETTINGS
@given(problems(windows=True))
def test_calendar_windows_are_respected(problem: Problem) -> None:
    _assert_solved_feasibly(problem)


@SETTINGS
@given(problems(setups=True))
def test_sequence_dependent_setups_are_respected(problem: Problem) -> None:
    _assert_solved_feasibly(problem)


@SETTINGS
@given(problems(releases=True, due_dates=True))
def test_releases_are_respected_under_weighted_tardiness(problem: Problem) -> None:
    _assert_solved_feasibly(problem, Objective.WEIGHTED_TARDINESS)


@SETTINGS
@given(problems(windows=True, setups=True), st.data())
def test_frozen_operations_are_respected(problem: Problem, data: st.DataObject) -> None:
    base = dispatch(problem, "mwkr")
    assert base is not None
    chosen = data.draw(st.sets(st.sampled_from(range(problem.n_ops))))
    frozen = tuple(FrozenOp(a.op, a.machine, a.start) for a in base if a.op in chosen)
    _assert_solved_feasibly(replace(problem, frozen=frozen))


@SETTINGS
@given(problems(merges=True, windows=True, setups=True, releases=True, due_dates=True))
def test_every_dispatching_rule_gives_a_feasible_plan(problem: Problem) -> None:
    for rule in RULES:
        plan = dispatch(problem, rule)
        assert plan is not None
        assert check_plan(problem, plan) == []
