"""Pins and rush on the 2,000-operation factory (planning/generator.py): what they cost and
what rush buys. Prints one JSON object.

* `dispatch_s`: the best dispatching plan (every rule) without rush or pins, with 5 % of
  the jobs marked rush, and with 20 start pins taken from the plain plan (10 of them moved
  to another machine);
* `solve`: the whole strategy for `--time-limit` seconds with and without rush: weighted
  tardiness, and the rush jobs' mean completion and mean first start (minutes);
* every plan is checked by `check_plan` (pins included): `violations` must be 0.

    PYTHONPATH=src .venv/bin/python benchmarks/schedule/rush_pins.py --time-limit 20
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import replace

from microfactory.planning.checker import check_plan
from microfactory.planning.cpsat import safe_horizon
from microfactory.planning.generator import generate_factory
from microfactory.planning.model import Assignment, Objective, Pin, Problem
from microfactory.planning.solver import best_dispatch, solve

GOAL = Objective.WEIGHTED_TARDINESS


def _timed_dispatch(problem: Problem) -> tuple[float, list[Assignment]]:
    began = time.perf_counter()
    plan, _ = best_dispatch(problem, GOAL, safe_horizon(problem, None) + 1)
    assert plan is not None
    return time.perf_counter() - began, plan


def _rush_figures(problem: Problem, plan: list[Assignment] | tuple[Assignment, ...]) -> dict:
    rush_jobs = [j for j, job in enumerate(problem.jobs) if job.rush]
    ends = {j: 0 for j in rush_jobs}
    starts = {j: 10**9 for j in rush_jobs}
    for a in plan:
        j = problem.operations[a.op].job
        if j in ends:
            ends[j] = max(ends[j], a.end)
            starts[j] = min(starts[j], a.start)
    n = max(1, len(rush_jobs))
    return {
        "rush_mean_completion": round(sum(ends.values()) / n, 1),
        "rush_mean_first_start": round(sum(starts.values()) / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plain = generate_factory(args.seed)
    rng = random.Random(args.seed)
    rushed_jobs = set(rng.sample(range(len(plain.jobs)), max(1, len(plain.jobs) // 20)))
    rushed = replace(
        plain,
        jobs=tuple(replace(job, rush=j in rushed_jobs) for j, job in enumerate(plain.jobs)),
    )
    seconds_plain, base = _timed_dispatch(plain)
    seconds_rush, rush_plan = _timed_dispatch(rushed)
    flexible = [a for a in base if len(plain.operations[a.op].modes) > 1]
    chosen = rng.sample(flexible, 20)
    pins = []
    for k, a in enumerate(chosen):
        modes = plain.operations[a.op].modes
        other = [m.machine for m in modes if m.machine != a.machine]
        pins.append(Pin(a.op, other[0] if k % 2 and other else a.machine, None))
        if not k % 2:
            pins[-1] = Pin(a.op, a.machine, a.start)
    pinned = replace(plain, pins=tuple(pins))
    seconds_pins, pinned_plan = _timed_dispatch(pinned)
    violations = len(check_plan(rushed, rush_plan)) + len(check_plan(pinned, pinned_plan))
    out: dict = {
        "operations": plain.n_ops,
        "jobs": len(plain.jobs),
        "rush_jobs": len(rushed_jobs),
        "pins": len(pins),
        "dispatch_s": {
            "plain": round(seconds_plain, 3),
            "rush": round(seconds_rush, 3),
            "pins": round(seconds_pins, 3),
        },
        "solve": {},
    }
    for name, problem in (("plain", plain), ("rush", rushed)):
        result = solve(problem, GOAL, args.time_limit, args.workers, seed=args.seed)
        violations += len(check_plan(problem, result.assignments))
        out["solve"][name] = {
            "weighted_tardiness": result.weighted_tardiness,
            "solver": result.solver,
            **_rush_figures(rushed, result.assignments),
        }
    pinned_result = solve(pinned, GOAL, args.time_limit, args.workers, seed=args.seed)
    violations += len(check_plan(pinned, pinned_result.assignments))
    out["solve"]["pins"] = {
        "weighted_tardiness": pinned_result.weighted_tardiness,
        "solver": pinned_result.solver,
    }
    out["violations"] = violations
    print(json.dumps(out))


if __name__ == "__main__":
    main()
