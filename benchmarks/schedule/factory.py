"""The generated 2,000-operation factory benchmark (20 machines, setups, calendars, due
dates; seeded), minimising total weighted tardiness:

* time to the first feasible plan (the fastest dispatching rule, checked);
* weighted tardiness after `--time-limit` seconds (60 in the issue), and, with
  `--reference-time` (600 in the issue), the best found in that longer run and the gap;
* a breakdown mid-horizon of the busiest machine for `--down-minutes`: time to the first
  repaired plan, the plan after `--repair-limit` seconds (5 in the issue), and the share of
  operations not on that machine that moved (start or machine changed).

With `--people N` the factory gets a crew (`generator.with_operators`: N operators on two
weekday shifts with skills; printers need a person to set up, lasers half a person, every
other machine a person for the whole run).

With `--pyjobshop` PyJobShop (`pyjobshop_factory.py`: operators as renewable resources
with their shifts as breaks) solves the same instance for the same `--time-limit` and
workers after ours, and its plan goes through the same checker. PyJobShop cannot take the
sequence-dependent setup times at this size (see `pyjobshop_factory.py`), so it needs
`--no-setups`, which removes them from the instance for both solvers. On this instance it
finds no plan within minutes while the machines have calendar windows (PyJobShop breaks);
`--no-calendars` removes those too, for both.

    .venv/bin/python benchmarks/schedule/factory.py --time-limit 60 --reference-time 600
    .venv/bin/python benchmarks/schedule/factory.py --people 16 --no-setups --pyjobshop
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from microfactory.planning.checker import check_plan
from microfactory.planning.generator import generate_factory, with_operators
from microfactory.planning.heuristics import dispatch, repair
from microfactory.planning.model import Objective, Window
from microfactory.planning.rescheduling import add_unavailability, freeze_started, moved_fraction
from microfactory.planning.result import makespan_of, weighted_tardiness_of
from microfactory.planning.solver import solve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--reference-time", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repair-limit", type=float, default=5.0)
    parser.add_argument("--down-minutes", type=int, default=8 * 60)
    parser.add_argument("--stability-weight", type=int, default=60)
    parser.add_argument("--people", type=int, default=0, help="operators (0: none)")
    parser.add_argument("--no-setups", action="store_true", help="drop the setup times")
    parser.add_argument(
        "--no-calendars", action="store_true", help="drop the machines' calendar windows"
    )
    parser.add_argument("--pyjobshop", action="store_true", help="PyJobShop on the same")
    parser.add_argument(
        "--peer-time-limit", type=float, default=0.0, help="PyJobShop's (default: --time-limit)"
    )
    args = parser.parse_args(argv)
    problem = generate_factory(args.seed, args.ops)
    if args.no_setups:
        problem = replace(problem, machines=tuple(replace(m, setups={}) for m in problem.machines))
    if args.no_calendars:
        problem = replace(
            problem, machines=tuple(replace(m, unavailable=()) for m in problem.machines)
        )
    if args.people > 0:
        problem = with_operators(problem, people=args.people)
    row: dict[str, Any] = {
        "instance": problem.name,
        "operations": problem.n_ops,
        "jobs": len(problem.jobs),
        "machines": len(problem.machines),
        "operators": len(problem.operators),
        "setups": sum(len(m.setups) for m in problem.machines),
        "machine_windows": sum(len(m.unavailable) for m in problem.machines),
        "cores": os.cpu_count(),
        "workers": args.workers,
    }
    began, cpu = time.perf_counter(), time.process_time()
    first = dispatch(problem, "edd")
    assert first is not None
    row["first_plan_seconds"] = round(time.perf_counter() - began, 3)
    row["first_plan_cpu_seconds"] = round(time.process_time() - cpu, 3)  # on a busy machine
    row["first_plan_feasible"] = not check_plan(problem, first)
    row["first_plan_tardiness"] = weighted_tardiness_of(problem, first)

    result = solve(problem, Objective.WEIGHTED_TARDINESS, args.time_limit, args.workers)
    plan = list(result.assignments)
    row["tardiness"] = result.weighted_tardiness
    row["tardiness_seconds"] = round(result.seconds, 1)
    row["feasible"] = not check_plan(problem, plan)
    row["makespan"] = result.makespan
    if args.pyjobshop:
        row.update(pyjobshop(problem, args))
    if args.reference_time > 0:
        reference = solve(problem, Objective.WEIGHTED_TARDINESS, args.reference_time, args.workers)
        best = min(reference.weighted_tardiness or 0, result.weighted_tardiness or 0)
        row["reference_tardiness"] = reference.weighted_tardiness
        row["reference_seconds"] = args.reference_time
        row["gap_to_reference_pct"] = (
            round(100.0 * ((result.weighted_tardiness or 0) - best) / best, 2) if best else 0.0
        )
    row.update(breakdown(problem, plan, args))
    print(json.dumps(row), flush=True)
    return row


def pyjobshop(problem: Any, args: argparse.Namespace) -> dict[str, Any]:
    from pyjobshop_factory import solve_factory

    limit = args.peer_time_limit or args.time_limit
    peer = solve_factory(problem, limit, args.workers)
    return {
        "pyjobshop_time_limit": limit,
        "pyjobshop_status": peer.status,
        "pyjobshop_tardiness": peer.objective,
        "pyjobshop_recomputed_tardiness": weighted_tardiness_of(problem, peer.plan)
        if peer.plan
        else None,
        "pyjobshop_lower_bound": peer.lower_bound,
        "pyjobshop_seconds": round(peer.seconds, 1),
        "pyjobshop_build_seconds": round(peer.build_seconds, 1),
        "pyjobshop_feasible": bool(peer.plan) and not check_plan(problem, peer.plan),
        "pyjobshop_violations": check_plan(problem, peer.plan)[:3] if peer.plan else [],
    }


def breakdown(problem: Any, plan: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    load: Counter[int] = Counter()
    for a in plan:
        load[a.machine] += a.end - a.start
    busiest = load.most_common(1)[0][0]  # the bottleneck: most planned processing time
    # down one minute after the start of its operation nearest mid-horizon (so it is working)
    middle = makespan_of(plan) // 2
    on_it = [a for a in plan if a.machine == busiest]
    now = min(on_it, key=lambda a: abs(a.start - middle)).start + 1
    changed = add_unavailability(
        freeze_started(problem, plan, now),
        busiest,
        Window(now, now + args.down_minutes),
        interrupt=True,
    )
    previous = {a.op: a for a in plan}
    began, cpu = time.perf_counter(), time.process_time()
    repaired = repair(changed, previous)
    first_seconds = time.perf_counter() - began
    first_cpu = time.process_time() - cpu
    result = solve(
        changed,
        Objective.WEIGHTED_TARDINESS,
        args.repair_limit,
        args.workers,
        previous=previous,
        stability_weight=args.stability_weight,
    )
    return {
        "breakdown_machine": problem.machines[busiest].name,
        "breakdown_at": now,
        "repair_first_plan_seconds": round(first_seconds, 3),
        "repair_first_plan_cpu_seconds": round(first_cpu, 3),
        "repair_first_plan_feasible": repaired is not None and not check_plan(changed, repaired),
        "repair_first_plan_moved_pct": round(
            100 * moved_fraction(plan, repaired or [], exclude_machine=busiest), 2
        ),
        "repair_first_plan_tardiness": weighted_tardiness_of(changed, repaired or []),
        "tardiness_before_breakdown": weighted_tardiness_of(problem, plan),
        "repair_seconds": round(result.seconds, 2),
        "repair_feasible": result.has_plan and not check_plan(changed, result.assignments),
        "repair_moved_pct": round(
            100 * moved_fraction(plan, result.assignments, exclude_machine=busiest), 2
        ),
        "repair_tardiness": result.weighted_tardiness,
    }


if __name__ == "__main__":
    main()
