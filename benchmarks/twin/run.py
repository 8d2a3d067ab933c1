"""Benchmark of the closed loop: simulated days per wall second and the demo's wall time.

    python benchmarks/twin/run.py --days 30 --bus memory --db sqlite:////tmp/bench.db
    python benchmarks/twin/run.py --days 30 --twin-only     # the SimPy core alone (the peer)

Prints one JSON object. `cpu_seconds` is the process CPU time (all threads): on a shared
machine it is the figure that does not depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from datetime import UTC, datetime
from typing import Any

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.demo import DEMO_START, run_demo


def twin_only(days: int, seed: int) -> dict[str, Any]:
    """The twin with a random dispatcher and a sink that only counts: no planning, no bus,
    no database."""
    from microfactory.orders.factory_file import load_factory
    from microfactory.twin import Twin, TwinConfig, TwinJob

    factory = load_factory(DEMO_FACTORY)
    rng = random.Random(seed)
    count = [0]

    class Random:
        def next_job(self, machine: str, now: datetime) -> TwinJob | None:
            return TwinJob(
                f"op{rng.random()}",
                "WO-1",
                "LOT-1",
                rng.randint(1, 5),
                20.0,
                30.0,
                setup_family=rng.choice(["a", "b"]),
                produces=True,
            )

    def sink(event: Any) -> None:
        count[0] += 1
        event.to_json()

    began, cpu = time.perf_counter(), time.process_time()
    twin = Twin(factory, TwinConfig(start=DEMO_START, seed=seed), Random(), sink)
    twin.run_until(days * 1440.0)
    return {
        "mode": "twin-only",
        "days": days,
        "events": count[0],
        "wall_seconds": round(time.perf_counter() - began, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }


def loop(days: int, seed: int, bus: str, db: str) -> dict[str, Any]:
    container = bootstrap(db_url=db, migrate=False)
    began, cpu = time.perf_counter(), time.process_time()
    try:
        summary = run_demo(container, days=days, seed=seed, bus=bus, factory_file=DEMO_FACTORY)
    finally:
        container.close()
    return {
        "mode": "loop",
        "days": days,
        "bus": bus,
        "db": db.split(":", 1)[0],
        "events": summary["events_ingested"],
        "samples": summary["samples_stored"],
        "orders": summary["orders_received"],
        "on_time_rate": summary["on_time_rate"],
        "oee": summary["oee"]["oee"],
        "wall_seconds": round(time.perf_counter() - began, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bus", choices=("memory", "mqtt"), default="memory")
    parser.add_argument("--db", default="sqlite:////tmp/microfactory-bench.db")
    parser.add_argument("--twin-only", action="store_true")
    args = parser.parse_args()
    result = (
        twin_only(args.days, args.seed)
        if args.twin_only
        else loop(args.days, args.seed, args.bus, args.db)
    )
    result["sim_days_per_wall_second"] = round(args.days / result["wall_seconds"], 3)
    result["sim_days_per_cpu_second"] = round(args.days / max(result["cpu_seconds"], 1e-9), 3)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
