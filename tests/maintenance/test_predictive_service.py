"""Predictive maintenance in the closed loop: the twin's telemetry is scored online, an
alert opens a predictive work order, and its window is planned around."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.core import ValidationError
from microfactory.maintenance.health import HealthModel
from microfactory.services.closed_loop import ClosedLoop, LoopConfig, summary_dict
from microfactory.services.demo import load_demo_factory
from microfactory.services.maintenance import (
    PredictiveMaintenance,
    PredictiveOrders,
    PredictiveSettings,
    plan_predictive_maintenance,
)
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .twin_lives import twin_life, twin_lives

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


def test_twin_alert_becomes_a_planned_maintenance_window(tmp_path: Path) -> None:
    fragile = tmp_path / "fragile.yaml"
    fragile.write_text(DEMO_FACTORY.read_text().replace("mtbf_hours: 180", "mtbf_hours: 40"))
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'p.db'}")
    try:
        factory = load_demo_factory(container.uow, fragile)
        telemetry = SqlTelemetryStore(container.engine)
        predictor = PredictiveMaintenance(
            telemetry,
            {m.id: m.type for m in factory.machines},
            PredictiveSettings(lead_hours=20.0),
        )
        ports = container.loop_ports(
            factory, InProcessBus(), "memory", start=START, preventive=False, predictor=predictor
        )
        config = LoopConfig(start=START, days=2, seed=4)
        loop = ClosedLoop(ports, factory, config, predictor_name="PredictiveMaintenance")
        summary = summary_dict(loop.run(), config, "memory")
        store = SqlExecutionStore(container.engine)
        predictive = [r for r in store.maintenance_orders() if r["kind"] == "predictive"]
        with container.engine.connect() as conn:
            runs = [
                (r.at, r.trigger, r.reason)
                for r in conn.execute(text("SELECT at, trigger, reason FROM replan_requests"))
            ]
    finally:
        container.close()
    assert summary["predicted_failures"] == len(predictive) > 0
    assert summary["caught_failures"] >= 1
    # every predictive work order's window triggered a replan around it
    windows = [reason for _, trigger, reason in runs if trigger == "maintenance_window"]
    assert {r["id"] for r in predictive} <= {w.split()[-1] for w in windows}
    # the alert says which signals and which trend
    assert all("from healthy" in r["reason"] and "run-h" in r["reason"] for r in predictive)


def test_plan_predictive_maintenance_opens_a_window_only_when_due(tmp_path: Path) -> None:
    model = HealthModel().fit(twin_lives(6, seed=0))
    history, _ = twin_life(np.random.default_rng(3))
    worn = model.assess(history)
    fresh = model.assess(history.until(0.1 * float(history.run_hours[-1])))
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'w.db'}")
    try:
        factory = load_demo_factory(container.uow, DEMO_FACTORY)
        tpm = PredictiveOrders(container.uow, factory)
        mill = next(m.id for m in factory.machines if m.type == "cnc_mill")
        assert fresh.rul_hours is not None and fresh.rul_hours > 24
        assert plan_predictive_maintenance(tpm, mill, fresh, START, lead_hours=24) is None
        wo = plan_predictive_maintenance(tpm, mill, worn, START, lead_hours=24)
    finally:
        container.close()
    assert wo is not None and wo.window is not None
    assert wo.window.start >= START
    with container.uow() as tx:
        downtimes = tx.plans.downtimes()
    assert [r for _, _, r in downtimes[mill]] == [f"pm:{wo.id}"]
    assert wo.reason == worn.explanation


def test_settings_reject_a_non_positive_lead() -> None:
    with pytest.raises(ValueError, match="lead_hours"):
        PredictiveSettings(lead_hours=0)


def test_unknown_machine_is_refused(tmp_path: Path) -> None:
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'u.db'}")
    try:
        service = PredictiveMaintenance(SqlTelemetryStore(container.engine), {"m1": "cnc_mill"})
        with pytest.raises(ValidationError, match="unknown machine"):
            service.assess("nope")
        assert service.assess("m1") is None  # no telemetry yet
    finally:
        container.close()
