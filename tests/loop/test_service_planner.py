"""The loop on the planning service with CP-SAT (+ LNS within its time limit) instead of the
deterministic dispatching strategy: the same service, another solver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.services.closed_loop import ClosedLoop, LoopConfig, summary_dict
from microfactory.services.demo import load_demo_factory
from microfactory.services.planning import PlanningSettings

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


def test_the_loop_runs_on_the_planning_service_with_cpsat(tmp_path: Path) -> None:
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 's.db'}")
    try:
        factory = load_demo_factory(container.uow, DEMO_FACTORY)
        # CP-SAT proves each of the day's three plans optimal in 0.05-0.3 s on a quiet machine
        # and returns then; the limit is generous so that a loaded machine (parallel tests)
        # does not stop it before it improves on its dispatching hint
        settings = PlanningSettings(strategy="cpsat", time_limit=5.0, workers=1)
        ports = container.loop_ports(
            factory, InProcessBus(), "memory", planning=settings, start=START
        )
        config = LoopConfig(start=START, days=1, seed=7)
        loop = ClosedLoop(ports, factory, config)
        summary = summary_dict(loop.run(), config, "memory")
        versions = loop.planning.versions()
    finally:
        container.close()
    assert summary["orders_completed"] > 0
    assert len(versions) == summary["plans"] > 0
    assert all("dispatch" not in v["solver"] for v in versions)
