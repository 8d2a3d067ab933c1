"""Materials benchmark (issue: the smart value chain).

1. MRP net requirements, 200 materials × 5,000 open operations:
   a. the engine alone (`planning.mrp.net_requirements` on prepared demands and supplies),
   b. the whole use case (`services.purchasing.suggest`: open work orders, estimates, lots
      and purchase orders read from SQLite, demands built, netted), and the planner's
      question (`StockAvailability.ready_times`) on the same shop.
2. Forward trace from a material lot (`trace LOT`, the recall list) over a 90-day demo
   database: p50/p95/max of 100 lots drawn at random (with replacement) from the lots
   consumed. The 90-day demo takes minutes: run it once (`--days 90`, or give `--db` of an
   existing demo database) and reuse the file.

Prints one JSON object. Examples:
    python benchmarks/materials/run.py mrp
    python benchmarks/materials/run.py trace --db sqlite:////tmp/demo90.db [--days 90]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.orders import OrderLine
from microfactory.orders.materials import SupplierTerms
from microfactory.orders.stock import MovementKind
from microfactory.planning.mrp import Demand, Policy, Supply, net_requirements
from microfactory.services.factory import init_factory
from microfactory.services.genealogy import trace
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.purchasing import StockAvailability, suggest
from microfactory.store.quality_store import SqlQualityStore

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def best_of(runs: int, work: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    return best, result


# -- 1a. the engine ---------------------------------------------------------------------------


def engine_case(materials: int, operations: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [f"m{i:03d}" for i in range(materials)]
    policies = {
        m: Policy(
            m, rng.uniform(0, 20), (SupplierTerms("S", rng.uniform(1, 10), rng.uniform(0, 50)),)
        )
        for m in names
    }
    demands = [
        Demand(
            rng.choice(names),
            rng.uniform(0.01, 3),
            T0 + timedelta(hours=rng.uniform(0, 24 * 45)),
            f"op{k}-{j}",
        )
        for k in range(operations)
        for j in range(rng.choice((1, 1, 2, 3)))
    ]
    supplies = [Supply(m, rng.uniform(0, 60), T0, None, f"lot-{m}") for m in names]
    supplies += [
        Supply(
            rng.choice(names),
            rng.uniform(10, 80),
            T0 + timedelta(days=rng.uniform(1, 20)),
            None,
            f"po{k}",
        )
        for k in range(materials // 2)
    ]
    seconds, out = best_of(
        5, lambda: net_requirements(demands, supplies, policies, T0, T0 + timedelta(days=60))
    )
    return {"demand_lines": len(demands), "seconds": round(seconds, 4), "suggestions": len(out)}


# -- 1b. the use case on SQLite ----------------------------------------------------------------


def big_factory(materials: int) -> dict[str, Any]:
    """The demo factory with `materials` stocked materials, every one drawn by some product's
    last step (its print material stays as in the demo)."""
    data = yaml.safe_load(DEMO_FACTORY.read_text())
    rng = random.Random(1)
    extra = []
    for i in range(materials - len(data["materials"])):
        extra.append(
            {
                "id": f"mat-{i:03d}",
                "name": f"Material {i}",
                "kind": "component",
                "unit": "piece",
                "density_g_cm3": 1.0,
                "cost_per_kg": 1.0,
                "safety_stock": rng.choice((0, 10, 50)),
                "suppliers": [
                    {"name": "Wholesale", "lead_time_days": rng.randint(1, 14), "moq": 100}
                ],
                "lots": [
                    {
                        "id": f"LOT-{i:03d}",
                        "quantity": rng.randint(0, 500),
                        "received": "2026-01-05T08:00:00Z",
                    }
                ],
            }
        )
    data["materials"].extend(extra)
    # every extra material is drawn by some product (round robin), at the last step: a kit
    per_product = -(-len(extra) // len(data["products"]))
    for k, p in enumerate(data["products"]):
        last = p["routing"][-1]["seq"]
        for m in extra[k * per_product : (k + 1) * per_product]:
            p["bom"].append(
                {
                    "component": m["id"],
                    "quantity": rng.randint(1, 4),
                    "unit": "piece",
                    "operation": last,
                }
            )
    return data


def service_case(materials: int, operations: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "factory.yaml"
        path.write_text(yaml.safe_dump(big_factory(materials)))
        url = f"sqlite:///{Path(tmp) / 'mrp.db'}"
        container = bootstrap(db_url=url)
        try:
            factory = init_factory(container.uow, path, FixedClock(T0))
            assert len(factory.materials) == materials
            products = list(factory.products)
            rng = random.Random(2)
            ops = n = 0
            with container.uow() as tx:
                while ops < operations:
                    product = products[n % len(products)]
                    req = OrderRequest(
                        customer="acme",
                        lines=(OrderLine(product.id, rng.randint(1, 10)),),
                        due=T0 + timedelta(days=rng.uniform(2, 40)),
                        order_id=f"SO-{n:06d}",
                    )
                    place_order(tx, req, T0 - timedelta(hours=1))
                    for wo in release_order(tx, req.order_id or "", T0 - timedelta(hours=1)):
                        ops += len(wo.operations)
                    n += 1
                tx.commit()

            def run() -> int:
                with container.uow() as tx:
                    return len(suggest(tx, factory, T0))

            seconds, count = best_of(3, run)
            with container.uow() as tx:
                work_orders = tx.work_orders.find()
            availability = StockAvailability(container.uow)
            ready_s, ready = best_of(3, lambda: availability.ready_times(work_orders, T0, {}))
            return {
                "materials": materials,
                "open_operations": ops,
                "work_orders": n,
                "suggest_seconds": round(seconds, 3),
                "suggestions": count,
                "ready_times_seconds": round(ready_s, 3),
                "operations_waiting_for_material": len(ready),
            }
        finally:
            container.close()


# -- 2. forward trace on a 90-day demo --------------------------------------------------------


def trace_case(db: str, days: int, samples: int, seed: int) -> dict[str, Any]:
    container = bootstrap(db_url=db)
    demo_seconds = None
    try:
        with container.uow() as tx:
            moves = tx.stock.movements(kinds=[MovementKind.ISSUE])
        if not moves:
            from microfactory.cli.demo import run_demo

            began = time.perf_counter()
            run_demo(container, days=days, seed=7, bus="memory", factory_file=DEMO_FACTORY)
            demo_seconds = round(time.perf_counter() - began, 1)
            with container.uow() as tx:
                moves = tx.stock.movements(kinds=[MovementKind.ISSUE])
        lots = sorted({m.lot for m in moves if m.lot})
        rng = random.Random(seed)
        store = SqlQualityStore(container.engine)
        times: list[float] = []
        sizes: list[int] = []
        for lot in (rng.choice(lots) for _ in range(samples)):
            began = time.perf_counter()
            with container.uow() as tx:
                out = trace(tx, store, lot)
            times.append(time.perf_counter() - began)
            sizes.append(len(out["work_orders"]))
            assert out["customers"], lot
        times.sort()
        with container.uow() as tx:
            orders = tx.orders.count()
        return {
            "db": db,
            "demo_seconds": demo_seconds,
            "orders": orders,
            "issues": len(moves),
            "lots_consumed": len(lots),
            "samples": samples,
            "work_orders_per_lot": {"median": statistics.median(sizes), "max": max(sizes)},
            "p50_ms": round(1000 * times[len(times) // 2], 1),
            "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(1000 * times[-1], 1),
        }
    finally:
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="case", required=True)
    mrp = sub.add_parser("mrp")
    mrp.add_argument("--materials", type=int, default=200)
    mrp.add_argument("--operations", type=int, default=5000)
    tr = sub.add_parser("trace")
    tr.add_argument("--db", required=True)
    tr.add_argument("--days", type=int, default=90)
    tr.add_argument("--samples", type=int, default=100)
    tr.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    if args.case == "mrp":
        out = {
            "case": "mrp",
            "engine": engine_case(args.materials, args.operations, 3),
            "service": service_case(args.materials, args.operations),
        }
    else:
        out = {"case": "trace", **trace_case(args.db, args.days, args.samples, args.seed)}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
