"""The loop on the planning service itself (CP-SAT + LNS within its time limit) instead of
the deterministic dispatch planner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.core.clock import FixedClock
from microfactory.services.closed_loop import ClosedLoop, LoopConfig, LoopPorts, summary_dict
from microfactory.services.demo import load_demo_factory
from microfactory.services.loop_planning import ServicePlanner
from microfactory.services.planning import PlanningService, PlanningSettings
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.planning_sql import SqlPlanStore
from microfactory.store.telemetry_tables import SqlTelemetryStore
from microfactory.twin.model import Twin

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


class TwinClock:
    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    def now(self) -> datetime:
        return self.twin.now


def test_the_loop_runs_on_the_planning_service(tmp_path: Path) -> None:
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 's.db'}")
    try:
        factory = load_demo_factory(container.uow, DEMO_FACTORY)
        plans = SqlPlanStore(container.engine)
        service = PlanningService(
            container.uow,
            plans,
            FixedClock(START),
            PlanningSettings(time_limit=0.3, workers=1),
        )
        ports = LoopPorts(
            container.uow,
            SqlExecutionStore(container.engine),
            SqlTelemetryStore(container.engine),
            InProcessBus(),
            plans,
            "memory",
        )
        config = LoopConfig(start=START, days=1, seed=7)
        loop = ClosedLoop(ports, factory, config, planner=ServicePlanner(service))
        service.clock = TwinClock(loop.twin)
        summary = summary_dict(loop.run(), config, "memory")
        versions = plans.versions()
    finally:
        container.close()
    assert summary["orders_completed"] > 0
    assert len(versions) == summary["plans"] > 0
    assert any("cpsat" in v["solver"] or "dispatch" in v["solver"] for v in versions)
