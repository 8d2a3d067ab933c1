"""Re-planning building blocks: events as problem changes, the repair heuristic, LNS, and
the seeded factory generator. Plans are verified by the independent checker."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from microfactory.planning.checker import check_plan
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch, repair
from microfactory.planning.lns import critical_path, improve
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Pin,
    Problem,
    Window,
)
from microfactory.planning.readers import read_instance
from microfactory.planning.rescheduling import (
    add_unavailability,
    freeze_started,
    moved_fraction,
)
from microfactory.planning.result import makespan_of, weighted_tardiness_of


def _two_machines() -> Problem:
    return Problem(
        machines=(Machine(name="a"), Machine(name="b")),
        jobs=(Job(), Job()),
        operations=(
            Operation(job=0, modes=(Mode(0, 10), Mode(1, 12))),
            Operation(job=1, modes=(Mode(0, 5),)),
        ),
    )


PLAN = [Assignment(0, 0, 0, 10), Assignment(1, 0, 10, 15)]


def test_freeze_started_freezes_the_past_and_releases_the_rest_at_now() -> None:
    changed = freeze_started(_two_machines(), PLAN, now=3)
    assert changed.frozen == (FrozenOp(0, 0, 0),)
    assert changed.operations[1].release == 3


def test_breakdown_interrupts_the_running_operation() -> None:
    frozen = freeze_started(_two_machines(), PLAN, now=3)
    changed = add_unavailability(frozen, 0, Window(3, 20), interrupt=True)
    assert changed.frozen == ()
    assert changed.machines[0].unavailable == (Window(3, 20),)
    assert changed.operations[0].release == 3


def test_maintenance_waits_for_the_running_operation() -> None:
    frozen = freeze_started(_two_machines(), PLAN, now=3)
    changed = add_unavailability(frozen, 0, Window(3, 20), interrupt=False)
    assert changed.frozen == (FrozenOp(0, 0, 0),)
    assert changed.machines[0].unavailable == (Window(10, 20),)


def test_moved_fraction_ignores_the_excluded_machine() -> None:
    after = [Assignment(0, 1, 20, 32), Assignment(1, 0, 10, 15)]
    assert moved_fraction(PLAN, after) == 0.5
    assert moved_fraction(PLAN, after, exclude_machine=0) == 0.0


def test_repair_of_an_unaffected_plan_moves_nothing() -> None:
    problem = generate_factory(seed=3, target_ops=120)
    plan = dispatch(problem, "edd")
    assert plan is not None
    idle = max(range(len(problem.machines)), key=lambda m: sum(a.machine != m for a in plan))
    last = max(a.end for a in plan)
    changed = add_unavailability(problem, idle, Window(last + 1, last + 50), interrupt=True)
    repaired = repair(changed, {a.op: a for a in plan})
    assert repaired is not None
    assert check_plan(changed, repaired) == []
    assert moved_fraction(plan, repaired) == 0.0


def test_repair_after_a_breakdown_is_feasible() -> None:
    problem = generate_factory(seed=4, target_ops=150)
    plan = dispatch(problem, "edd")
    assert plan is not None
    victim = plan[len(plan) // 2]
    now = victim.start + 1
    changed = add_unavailability(
        freeze_started(problem, plan, now), victim.machine, Window(now, now + 600), interrupt=True
    )
    repaired = repair(changed, {a.op: a for a in plan})
    assert repaired is not None
    assert check_plan(changed, repaired) == []


@pytest.mark.parametrize("windowed", [False, True], ids=["order-fixed", "window"])
def test_lns_returns_a_feasible_plan_no_worse_than_its_start(windowed: bool) -> None:
    problem = generate_factory(seed=5, target_ops=120)
    start = dispatch(problem, "spt")
    assert start is not None
    result = improve(
        problem, start, Objective.WEIGHTED_TARDINESS, time_limit=1.5, workers=1, windowed=windowed
    )
    assert check_plan(problem, result) == []
    assert weighted_tardiness_of(problem, result) <= weighted_tardiness_of(problem, start)


def test_critical_path_of_an_active_plan_is_a_gapless_chain_from_zero_to_the_makespan(
    fjsp_dir: Path,
) -> None:
    """Recomputed independently of the solver: consecutive operations on the path touch
    (same job or same machine), the first starts at 0 and the last ends at the makespan,
    so the path's durations add up to the makespan."""
    problem = read_instance(fjsp_dir / "mk04.fjs")
    plan = dispatch(problem, "mwkr")
    assert plan is not None
    by_op = {a.op: a for a in plan}
    path = critical_path(problem, plan)
    assert by_op[path[0]].start == 0
    assert by_op[path[-1]].end == makespan_of(plan)
    for before, after in itertools.pairwise(path):
        assert by_op[before].end == by_op[after].start
        same_job = (before, after) in set(problem.precedences)
        assert same_job or by_op[before].machine == by_op[after].machine
    assert sum(by_op[op].end - by_op[op].start for op in path) == makespan_of(plan)


def test_critical_path_passes_a_setup_gap() -> None:
    machine = Machine(name="printer", setups={("red", "blue"): 7})
    problem = Problem(
        machines=(machine,),
        jobs=(Job(), Job()),
        operations=(
            Operation(job=0, modes=(Mode(0, 10),), family="red"),
            Operation(job=1, modes=(Mode(0, 5),), family="blue"),
        ),
    )
    plan = [Assignment(0, 0, 0, 10), Assignment(1, 0, 17, 22)]
    assert critical_path(problem, plan) == [0, 1]
    assert critical_path(problem, [Assignment(0, 0, 0, 10), Assignment(1, 0, 18, 23)]) == [1]


def test_makespan_lns_shortens_a_dispatch_plan_on_a_flexible_shop(fjsp_dir: Path) -> None:
    problem = read_instance(fjsp_dir / "mk01.fjs")
    start = dispatch(problem, "spt")
    assert start is not None
    result = improve(problem, start, Objective.MAKESPAN, time_limit=2.0, workers=1)
    assert check_plan(problem, result) == []
    assert makespan_of(result) < makespan_of(start)


def test_generator_is_reproducible_from_its_seed() -> None:
    first, second = generate_factory(seed=7, target_ops=300), generate_factory(7, 300)
    assert first == second
    assert first.n_ops >= 300 and len(first.machines) == 20
    assert first != generate_factory(seed=8, target_ops=300)


def test_a_breakdown_over_a_pinned_start_keeps_the_pin_machine_only() -> None:
    problem = Problem(
        machines=(Machine("m0"), Machine("m1")),
        jobs=(Job(),),
        operations=(Operation(job=0, modes=(Mode(0, 5), Mode(1, 5))),),
        pins=(Pin(0, 1, 10),),
    )
    broken = add_unavailability(problem, 1, Window(8, 20), interrupt=True)
    assert broken.pins == (Pin(0, 1, None),)
    assert broken.frozen == ()
    assert broken.operations[0].modes == (Mode(1, 5),)
