"""Tardy-tree tabu search for the weighted tardiness of a job shop: every plan it gives
passes the benchmark's independent checker (benchmarks/schedule/twt/check.py) with the
objective it reports, it never ends worse than it started, it reaches an optimum found by
enumerating every machine order, and the solver runs it only where it applies."""

from __future__ import annotations

import importlib.util
import itertools
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microfactory.planning import solve, twt_search
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import (
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
    Window,
    chain_precedences,
)
from microfactory.planning.result import Status, weighted_tardiness_of

TWT = Path(__file__).resolve().parents[2] / "benchmarks" / "schedule" / "twt"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("twt_check_for_search", TWT / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK = _checker()


def _problem(document: dict[str, Any]) -> Problem:
    """The Problem of an instance document in the benchmark's format (built here, not by
    the reader, so that the checker and the search share only the document)."""
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for j, job in enumerate(document["jobs"]):
        job_ops.append([])
        for machine, duration in job["ops"]:
            job_ops[-1].append(len(operations))
            operations.append(Operation(job=j, modes=(Mode(machine, duration),)))
    jobs = tuple(
        Job(due=job["due"], weight=job["weight"], release=job.get("release", 0))
        for job in document["jobs"]
    )
    machines = 1 + max(m for job in document["jobs"] for m, _ in job["ops"])
    return Problem(
        machines=tuple(Machine() for _ in range(machines)),
        jobs=jobs,
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
    )


@st.composite
def instances(draw: st.DrawFn) -> dict[str, Any]:
    machines = draw(st.integers(1, 4))
    jobs = []
    for _ in range(draw(st.integers(1, 5))):
        route = draw(st.permutations(range(machines)))
        length = draw(st.integers(1, machines))
        ops = [[m, draw(st.integers(0, 9))] for m in route[:length]]
        jobs.append(
            {
                "weight": draw(st.integers(0, 4)),
                "due": draw(st.integers(0, 30)),
                "release": draw(st.integers(0, 6)),
                "ops": ops,
            }
        )
    return {"name": "drawn", "jobs": jobs}


def _document(problem: Problem, plan: list[Any], value: int) -> dict[str, Any]:
    start = {a.op: a.start for a in plan}
    return {"objective": value, "starts": [[start[op] for op in ops] for ops in problem.job_ops()]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2**31))
def test_every_plan_passes_the_independent_checker_with_its_reported_value(
    document: dict[str, Any], seed: int
) -> None:
    problem = _problem(document)
    if not twt_search.applies(problem, Objective.WEIGHTED_TARDINESS):
        assert problem.n_ops < 2 or all(job["due"] is None for job in document["jobs"])
        return
    start = dispatch(problem, "edd")
    assert start is not None
    search = twt_search.TwtSearch(problem)
    value, timed = search.evaluate(start)
    assert value == weighted_tardiness_of(problem, timed) <= weighted_tardiness_of(problem, start)
    found, best, (iterations, _) = search.search(timed, time.perf_counter(), seed)
    errors, total = CHECK.check(document, _document(problem, found, best))
    assert errors == []
    assert total == best <= value
    assert iterations >= 1 or best == 0


# 3 jobs x 3 machines; every machine order enumerated below (6^3 = 216 combinations)
TINY = {
    "name": "tiny",
    "jobs": [
        {"weight": 4, "due": 9, "ops": [[0, 3], [1, 4], [2, 2]]},
        {"weight": 2, "due": 8, "ops": [[1, 5], [0, 2], [2, 3]]},
        {"weight": 1, "due": 7, "ops": [[2, 4], [1, 2], [0, 3]]},
    ],
}


def _brute_force(document: dict[str, Any]) -> int:
    """The least total weighted tardiness over every combination of machine orders
    (semi-active timing; cyclic combinations skipped): the optimum of a regular objective."""
    jobs = document["jobs"]
    on_machine: dict[int, list[tuple[int, int]]] = {}
    for j, job in enumerate(jobs):
        for k, (machine, _) in enumerate(job["ops"]):
            on_machine.setdefault(machine, []).append((j, k))
    machines = sorted(on_machine)
    best: int | None = None
    for orders in itertools.product(*(itertools.permutations(on_machine[m]) for m in machines)):
        position = {
            op: (m, i)
            for m, order in zip(machines, orders, strict=True)
            for i, op in enumerate(order)
        }
        end: dict[tuple[int, int], int] = {}
        progress = True
        while progress and len(end) < len(position):
            progress = False
            for op, (m, i) in position.items():
                j, k = op
                if op in end or (k > 0 and (j, k - 1) not in end):
                    continue
                before = orders[machines.index(m)][i - 1] if i > 0 else None
                if before is not None and before not in end:
                    continue
                ready = max(
                    jobs[j].get("release", 0),
                    end[(j, k - 1)] if k > 0 else 0,
                    end[before] if before is not None else 0,
                )
                end[op] = ready + jobs[j]["ops"][k][1]
                progress = True
        if len(end) < len(position):
            continue  # cyclic
        total = sum(
            job["weight"] * max(0, end[(j, len(job["ops"]) - 1)] - job["due"])
            for j, job in enumerate(jobs)
        )
        best = total if best is None else min(best, total)
    assert best is not None
    return best


def test_reaches_the_optimum_found_by_enumerating_every_machine_order() -> None:
    optimum = _brute_force(TINY)
    assert optimum > 0  # a real test: the optimum is not the trivial 0
    problem = _problem(TINY)
    start = dispatch(problem, "spt")
    assert start is not None
    found, value, _ = twt_search.TwtSearch(problem).search(start, time.perf_counter() + 0.5)
    assert value == optimum
    errors, total = CHECK.check(TINY, _document(problem, found, value))
    assert (errors, total) == ([], optimum)


def test_the_solver_runs_it_before_the_model_and_reports_the_optimum() -> None:
    problem = _problem(TINY)
    result = solve(problem, Objective.WEIGHTED_TARDINESS, time_limit=4.0, workers=2)
    assert result.solver.startswith("twt-search")
    assert result.weighted_tardiness == _brute_force(TINY)
    assert result.status is Status.OPTIMAL  # the model, hinted with it, proves it


def test_applies_only_to_weighted_tardiness_of_a_plain_job_shop() -> None:
    problem = _problem(TINY)
    assert twt_search.applies(problem, Objective.WEIGHTED_TARDINESS)
    assert not twt_search.applies(problem, Objective.MAKESPAN)
    assert not twt_search.applies(problem, Objective.TARDINESS_THEN_MAKESPAN)
    calendar = replace(
        problem, machines=(Machine(unavailable=(Window(0, 5),)), *problem.machines[1:])
    )
    assert not twt_search.applies(calendar, Objective.WEIGHTED_TARDINESS)
    flexible_op = replace(problem.operations[0], modes=(Mode(0, 3), Mode(1, 4)))
    flexible = replace(problem, operations=(flexible_op, *problem.operations[1:]))
    assert not twt_search.applies(flexible, Objective.WEIGHTED_TARDINESS)
    no_dues = replace(problem, jobs=tuple(replace(job, due=None) for job in problem.jobs))
    assert not twt_search.applies(no_dues, Objective.WEIGHTED_TARDINESS)
    with pytest.raises(ValueError, match="job shop with due dates"):
        twt_search.TwtSearch(flexible)


def test_two_threads_give_a_checked_plan() -> None:
    problem = _problem(TINY)
    start = dispatch(problem, "mwkr")
    assert start is not None
    found, value = twt_search.search(problem, start, time.perf_counter() + 0.2, threads=2)
    errors, total = CHECK.check(TINY, _document(problem, found, value))
    assert errors == [] and total == value == _brute_force(TINY)


def test_a_rush_job_keeps_the_solver_on_the_model_with_its_operations_first() -> None:
    problem = _problem(TINY)
    rushed = replace(
        problem, jobs=(problem.jobs[0], problem.jobs[1], replace(problem.jobs[2], rush=True))
    )
    result = solve(rushed, Objective.WEIGHTED_TARDINESS, time_limit=2.0, workers=1)
    assert not result.solver.startswith("twt-search")  # frozen rush operations: not its scope
    rush_ops = rushed.job_ops()[2]
    by_op = {a.op: a for a in result.assignments}
    assert by_op[rush_ops[0]].start == 0  # machine 2 runs the rush job first


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2**31))
def test_an_iteration_budget_gives_the_same_checked_plan_for_the_same_seed(
    document: dict[str, Any], seed: int
) -> None:
    problem = _problem(document)
    if not twt_search.applies(problem, Objective.WEIGHTED_TARDINESS):
        return
    start = dispatch(problem, "edd")
    assert start is not None
    search = twt_search.TwtSearch(problem)
    value, timed = search.evaluate(start)
    # a kick after every 3 idle steps, so that the random draws matter
    first, again = (search.search(timed, 0.0, seed, stall=3, iterations=300) for _ in range(2))
    found, best, (iterations, _) = first
    assert (again[0], again[1]) == (found, best)  # no clock involved
    errors, total = CHECK.check(document, _document(problem, found, best))
    assert errors == []
    assert total == best <= value
    assert iterations == 300 or best == 0
