"""The predictive-maintenance port of the loop: a warning becomes a predictive work order
whose window the scheduler plans around, and warnings are scored against the twin's truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.services.closed_loop import (
    ClosedLoop,
    FailureWarning,
    LoopConfig,
    WarningRecord,
    score_warnings,
    summary_dict,
)
from microfactory.services.demo import load_demo_factory
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.twin.model import FailureRecord, Twin

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


class Oracle:
    """A stand-in for the PdM service that reads the twin's hidden health (so the test is
    about the loop, not about a model): warn when under `hours` of run time are left."""

    def __init__(self, hours: float) -> None:
        self.hours = hours
        self.twin: Twin | None = None

    def warnings(self, now: datetime) -> list[FailureWarning]:
        assert self.twin is not None
        return [
            FailureWarning(m, "hidden health low", left / 60.0)
            for m in self.twin.machines
            if (left := self.twin.expected_run_minutes_to_failure(m)) < self.hours * 60.0
        ]


def test_a_warning_becomes_a_predictive_window_and_a_replan(tmp_path: Path) -> None:
    fragile = tmp_path / "fragile.yaml"
    fragile.write_text(DEMO_FACTORY.read_text().replace("mtbf_hours: 180", "mtbf_hours: 40"))
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'p.db'}")
    try:
        factory = load_demo_factory(container.uow, fragile)
        oracle = Oracle(hours=20.0)
        ports = container.loop_ports(
            factory, InProcessBus(), "memory", start=START, preventive=False, predictor=oracle
        )
        config = LoopConfig(start=START, days=2, seed=4)
        loop = ClosedLoop(ports, factory, config, predictor_name="oracle")
        oracle.twin = loop.twin
        run = loop.run()
        summary = summary_dict(run, config, "memory")
        store = SqlExecutionStore(container.engine)
        predictive = [r for r in store.maintenance_orders() if r["kind"] == "predictive"]
        with container.engine.connect() as conn:
            requests = conn.execute(text("SELECT trigger, reason, done FROM replan_requests")).all()
    finally:
        container.close()
    assert summary["predicted_failures"] == len(predictive) > 0
    assert summary["caught_failures"] > 0
    assert summary["predictive_maintenance_done"] > 0
    # every predictive work order's window asked for a replan, and a plan took it in
    windows = [r.reason for r in requests if r.trigger == "maintenance_window"]
    assert {r["id"] for r in predictive} <= {w.split()[-1] for w in windows}
    assert all(r.done is not None for r in requests)


def test_warnings_are_scored_against_the_hidden_truth() -> None:
    t = START
    warnings = [
        WarningRecord("a", t, "", true_rul_hours=10.0, planned=True),  # true, in time
        WarningRecord("b", t, "", true_rul_hours=500.0, planned=True),  # false alarm
        WarningRecord("c", t, "", true_rul_hours=5.0, planned=True),  # true but too late
        WarningRecord("d", t, "", true_rul_hours=5.0, planned=False),  # no work order
    ]
    failures = [
        FailureRecord("c", t + timedelta(hours=2), "x", 60.0),
        FailureRecord("e", t + timedelta(hours=30), "x", 60.0),  # never warned
    ]
    assert score_warnings(warnings, failures, 72.0) == (3, 1, 1, 2)
