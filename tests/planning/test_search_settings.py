"""`SearchSettings`: the planner's time shares and thresholds, passed into `solve`."""

from __future__ import annotations

import pytest

from microfactory.planning.model import Job, Machine, Mode, Objective, Operation, Problem
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings
from microfactory.planning.solver import _default_share, best_dispatch, solve


def _shop(n_jobs: int = 4) -> Problem:
    return Problem(
        machines=(Machine(), Machine()),
        jobs=tuple(Job(due=4 + j) for j in range(n_jobs)),
        operations=tuple(
            Operation(job=j, modes=(Mode(0, 3 + j % 2), Mode(1, 4))) for j in range(n_jobs)
        ),
    )


def test_the_defaults_are_the_measured_values() -> None:
    assert SearchSettings() == DEFAULT_SETTINGS
    assert (DEFAULT_SETTINGS.sequence_share, DEFAULT_SETTINGS.reorder_share) == (0.3, 0.6)
    assert DEFAULT_SETTINGS.monolithic_max_ops == 1200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sequence_share": 1.5},
        {"reorder_share": -0.1},
        {"sequence_share": 0.6, "reorder_share": 0.6},
        {"sequence_round_seconds": 0.0},
    ],
)
def test_bad_settings_are_refused_with_the_field_named(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"share|seconds"):
        SearchSettings(**kwargs)


def test_settings_reach_the_share_decision_without_patching_a_module() -> None:
    problem = _shop()
    assert _default_share(problem, Objective.WEIGHTED_TARDINESS, 10.0) == 1.0
    tiny = SearchSettings(monolithic_max_ops=2)
    assert _default_share(problem, Objective.WEIGHTED_TARDINESS, 10.0, settings=tiny) == 0.0
    # the module default is untouched by the other call
    assert _default_share(problem, Objective.WEIGHTED_TARDINESS, 10.0) == 1.0


def test_solve_takes_settings_and_still_returns_a_feasible_plan() -> None:
    problem = _shop()
    small = SearchSettings(monolithic_max_ops=2, sequence_share=0.5, reorder_share=0.2)
    result = solve(problem, Objective.WEIGHTED_TARDINESS, 1.0, 1, settings=small)
    assert result.has_plan
    reference = solve(problem, Objective.WEIGHTED_TARDINESS, 1.0, 1)
    assert reference.status.value == "optimal"
    assert result.weighted_tardiness is not None
    assert result.weighted_tardiness >= (reference.weighted_tardiness or 0)


def test_best_dispatch_large_ops_threshold_comes_from_the_settings() -> None:
    problem = _shop()
    plan, rule = best_dispatch(
        problem, Objective.WEIGHTED_TARDINESS, 100, settings=SearchSettings(large_ops=1)
    )
    assert plan is not None and rule
