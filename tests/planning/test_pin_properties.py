"""Hypothesis properties of pins and rush, checked on random small shops:

* no plan from any solver (every dispatching rule, the repair of a previous plan, the
  whole `solve` strategy, window LNS, job-sequence search, machine-order search, tabu
  search) ever violates a pin, and the independent checker finds nothing wrong;
* a rush job's operations end no later than they would without rush (start no later,
  too, where every operation has one machine), and nothing that can move has any
  influence on where they go: they are exactly where they would be if every movable
  operation of the other jobs did not exist.
"""

from __future__ import annotations

import time
from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import safe_horizon
from microfactory.planning.heuristics import RULES, dispatch, repair
from microfactory.planning.lns import improve
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Objective,
    Pin,
    Problem,
)
from microfactory.planning.reorder import search as reorder_search
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.sequence import frozen_predecessors_frozen
from microfactory.planning.sequence import search as sequence_search
from microfactory.planning.solver import best_dispatch, solve
from microfactory.planning.tabu import applies as tabu_applies
from microfactory.planning.tabu import search as tabu_search

from .test_properties import problems

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pin_errors(problem: Problem, plan: list[Assignment] | tuple[Assignment, ...]) -> list[str]:
    return [e for e in check_plan(problem, plan) if "pinned" in e]


@st.composite
def pinned_problems(draw: st.DrawFn, **kinds: bool) -> Problem:
    """A random shop with machine pins and, on some of them, a start taken from a feasible
    plan (so a plan that keeps every pin exists)."""
    problem = draw(problems(**kinds))
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


@SETTINGS
@given(pinned_problems(merges=True, windows=True, setups=True, releases=True, due_dates=True))
def test_no_dispatching_rule_and_no_repair_ever_violates_a_pin(problem: Problem) -> None:
    # a serial scheme that cannot place a pinned operation's predecessors in time gives no
    # plan (None) rather than one that breaks the routing; the solver then plans (below)
    for rule in RULES:
        plan = dispatch(problem, rule)
        if plan is not None:
            assert _pin_errors(problem, plan) == [], rule
    unpinned = replace(problem, pins=())
    # the shop may hold frozen operations too, which a serial scheme may not keep either
    previous = next((p for r in RULES if (p := dispatch(unpinned, r)) is not None), None)
    if previous is None:
        return
    for reserve in (True, False):
        plan = repair(problem, {a.op: a for a in previous}, reserve=reserve)
        if plan is not None:
            assert _pin_errors(problem, plan) == []


@SETTINGS
@given(
    pinned_problems(merges=True, windows=True, setups=True, releases=True, due_dates=True),
    st.sampled_from(list(Objective)),
)
def test_the_solver_keeps_every_pin_and_gives_a_feasible_plan(
    problem: Problem, objective: Objective
) -> None:
    result = solve(problem, objective, time_limit=2, workers=1)
    assert result.has_plan, result.reason
    assert check_plan(problem, result.assignments) == []


@SETTINGS
@given(pinned_problems(windows=True, setups=True, releases=True, due_dates=True))
def test_the_local_searches_keep_every_pin(problem: Problem) -> None:
    start = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=1, workers=1)
    assert start.has_plan, start.reason
    incumbent = list(start.assignments)
    objective = Objective.WEIGHTED_TARDINESS
    lns = improve(problem, incumbent, objective, 0.3, workers=1)
    assert check_plan(problem, lns) == []
    scale = safe_horizon(problem, None) + 1
    moved, value = reorder_search(problem, objective, incumbent, time.perf_counter() + 0.3, scale)
    if value >= 0:
        assert _pin_errors(problem, moved) == []
    if frozen_predecessors_frozen(problem) and len(problem.jobs) > 1:
        sequenced = sequence_search(problem, objective, 0.3, scale)
        assert check_plan(problem, sequenced) == []


@SETTINGS
@given(pinned_problems(merges=True))
def test_tabu_search_keeps_machine_pins(problem: Problem) -> None:
    machine_only = replace(problem, pins=tuple(replace(p, start=None) for p in problem.pins))
    assume(tabu_applies(machine_only, Objective.MAKESPAN))
    plan = dispatch(machine_only, "mwkr")
    assert plan is not None
    found, value = tabu_search(machine_only, plan, time.perf_counter() + 0.3)
    if value >= 0:
        assert check_plan(machine_only, found) == []


# -- rush --------------------------------------------------------------------------------


@st.composite
def rush_problems(draw: st.DrawFn, *, single_mode: bool = False) -> tuple[Problem, Problem]:
    """(with rush, without): one job marked rush, in a shop where some operations have
    started (frozen, as the planning service freezes them) and the rest wait for now."""
    problem = draw(problems(windows=True, setups=True, releases=True, due_dates=True))
    if single_mode:
        operations = tuple(replace(op, modes=op.modes[:1]) for op in problem.operations)
        problem = replace(problem, operations=operations)
    base = dispatch(problem, "spt")
    assert base is not None
    now = draw(st.integers(0, 10))
    problem = freeze_started(problem, base, now)
    rushed_job = draw(st.integers(0, len(problem.jobs) - 1))
    jobs = tuple(replace(job, rush=(j == rushed_job)) for j, job in enumerate(problem.jobs))
    return replace(problem, jobs=jobs), problem


def _rush_plans(
    problem: Problem, plain: Problem
) -> list[tuple[str, list[Assignment], list[Assignment]]]:
    """(strategy, plan with rush, plan without) for the full solver and the dispatch one."""
    out = []
    for name in ("solve", "dispatch"):
        if name == "solve":
            with_rush = list(solve(problem, Objective.WEIGHTED_TARDINESS, 1, 1).assignments)
            without = list(solve(plain, Objective.WEIGHTED_TARDINESS, 1, 1).assignments)
        else:
            scale = safe_horizon(problem, None) + 1
            with_rush = best_dispatch(problem, Objective.WEIGHTED_TARDINESS, scale)[0] or []
            without = best_dispatch(plain, Objective.WEIGHTED_TARDINESS, scale)[0] or []
        assert check_plan(problem, with_rush) == [], name
        out.append((name, with_rush, without))
    return out


@SETTINGS
@given(rush_problems())
def test_a_rush_job_ends_each_operation_no_later_than_without_rush(
    pair: tuple[Problem, Problem],
) -> None:
    problem, plain = pair
    frozen = problem.frozen_by_op()
    for name, with_rush, without in _rush_plans(problem, plain):
        for op in problem.rush_ops():
            if op not in frozen:
                assert with_rush[op].end <= without[op].end, (name, op)


@SETTINGS
@given(rush_problems(single_mode=True))
def test_with_one_machine_per_operation_a_rush_job_also_starts_no_later(
    pair: tuple[Problem, Problem],
) -> None:
    problem, plain = pair
    for name, with_rush, without in _rush_plans(problem, plain):
        for op in problem.rush_ops():
            assert with_rush[op].start <= without[op].start, (name, op)


def _without_movable_others(problem: Problem) -> tuple[Problem, dict[int, int]]:
    """The problem with every movable operation of the other jobs removed (old -> new
    indices of what is kept)."""
    frozen = problem.frozen_by_op()
    keep = sorted(set(problem.rush_ops()) | set(frozen))
    index = {old: new for new, old in enumerate(keep)}
    reduced = Problem(
        machines=problem.machines,
        jobs=problem.jobs,
        operations=tuple(problem.operations[op] for op in keep),
        precedences=tuple(
            (index[a], index[b]) for a, b in problem.precedences if a in index and b in index
        ),
        frozen=tuple(FrozenOp(index[f.op], f.machine, f.start) for f in problem.frozen),
    )
    return reduced, index


@SETTINGS
@given(rush_problems())
def test_nothing_that_can_move_decides_where_a_rush_job_goes(
    pair: tuple[Problem, Problem],
) -> None:
    """A movable operation of another job never takes a slot a rush operation could use:
    the rush job is placed exactly as if those operations did not exist."""
    problem, plain = pair
    reduced, index = _without_movable_others(problem)
    alone = dispatch(reduced, "mwkr")
    assert alone is not None
    for name, with_rush, _ in _rush_plans(problem, plain):
        for op in problem.rush_ops():
            got = (with_rush[op].machine, with_rush[op].start)
            assert got == (alone[index[op]].machine, alone[index[op]].start), (name, op)
