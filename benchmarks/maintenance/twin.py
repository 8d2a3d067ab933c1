"""Predictive maintenance in the digital twin: the same seeded closed-loop run with and
without the predictor; prints one JSON object per line.

    .venv/bin/python benchmarks/maintenance/twin.py --days 90 --seed 7 [--lead-hours 24]

A warning is scored by the loop against the twin's hidden truth (`score_warnings`): caught
when the expected remaining run time was within `true_warning_hours` and the machine did not
break down within 8 h after it; false alarm otherwise; a breakdown without a warning at
least 8 h before it is missed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.services.closed_loop import ClosedLoop, LoopConfig, LoopPorts, summary_dict
from microfactory.services.demo import load_demo_factory
from microfactory.services.maintenance import PredictiveMaintenance, PredictiveSettings
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.planning_sql import SqlPlanStore
from microfactory.store.telemetry_tables import SqlTelemetryStore

START = datetime(2026, 1, 5, 6, tzinfo=UTC)
KEYS = (
    "breakdowns",
    "predicted_failures",
    "caught_failures",
    "false_alarms",
    "missed_failures",
    "preventive_maintenance_done",
    "predictive_maintenance_done",
    "on_time_rate",
    "orders_completed",
    "oee",
    "wall_seconds",
)


def run(days: float, seed: int, lead_hours: float | None, preventive: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        container = bootstrap(db_url=f"sqlite:///{Path(tmp) / 'twin.db'}")
        try:
            factory = load_demo_factory(container.uow, DEMO_FACTORY)
            telemetry = SqlTelemetryStore(container.engine)
            ports = LoopPorts(
                container.uow,
                SqlExecutionStore(container.engine),
                telemetry,
                InProcessBus(),
                SqlPlanStore(container.engine),
                "memory",
            )
            predictor = None
            if lead_hours is not None:
                predictor = PredictiveMaintenance(
                    telemetry,
                    {m.id: m.type for m in factory.machines},
                    PredictiveSettings(lead_hours=lead_hours),
                )
            config = LoopConfig(
                start=START, days=days, seed=seed, preventive_maintenance=preventive
            )
            started = time.perf_counter()
            summary = summary_dict(
                ClosedLoop(ports, factory, config, predictor=predictor).run(), config, "memory"
            )
            summary["wall_seconds"] = round(time.perf_counter() - started, 1)
        finally:
            container.close()
    return {
        "benchmark": "twin",
        "days": days,
        "seed": seed,
        "preventive": preventive,
        "lead_hours": lead_hours,
        **{k: summary.get(k) for k in KEYS},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lead-hours", type=float, default=24.0)
    parser.add_argument("--no-preventive", action="store_true")
    parser.add_argument("--only", choices=("baseline", "pdm"), default=None)
    args = parser.parse_args()
    preventive = not args.no_preventive
    leads = {"baseline": [None], "pdm": [args.lead_hours], None: [None, args.lead_hours]}
    for lead in leads[args.only]:
        print(json.dumps(run(args.days, args.seed, lead, preventive)), flush=True)


if __name__ == "__main__":
    main()
