"""The closed loop on a real database and bus: it runs on SQLite and PostgreSQL and over
MQTT, a seed gives one history, and every breakdown and repair is followed by a replan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from microfactory.bootstrap import DEMO_FACTORY

from .conftest import demo_run

SUMMARY_KEYS = {
    "days",
    "seed",
    "orders_received",
    "orders_completed",
    "orders_late",
    "on_time_rate",
    "events_ingested",
    "breakdowns",
    "preventive_maintenance_done",
    "replans",
    "wall_seconds",
    "machines",
    "predicted_failures",
    "caught_failures",
    "false_alarms",
}
MACHINE_KEYS = {"id", "oee", "availability", "performance", "quality", "breakdowns"}


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def test_the_loop_runs_on_sqlite_and_postgresql(db_url: str) -> None:
    run = demo_run(db_url, 1, 5, bus="memory", predictive=False)
    s = run.summary
    assert set(s) >= SUMMARY_KEYS
    assert {"mtbf_h", "mttr_h"} | MACHINE_KEYS <= set(s["machines"][0])
    assert len(s["machines"]) == 15
    assert s["orders_received"] > 0 and s["events_ingested"] > 0
    [(ops_done,)] = _rows(db_url, "SELECT count(*) FROM wo_operations WHERE status = 'done'")
    assert ops_done > 0
    [(versions,)] = _rows(db_url, "SELECT count(*) FROM planning_plans")
    assert versions >= 1  # plans are stored as versions of the planning service


def _history(url: str) -> list[tuple[str, int, str | None]]:
    return [
        (r[0], r[1], r[2])
        for r in _rows(url, "SELECT event_id, ts_us, body FROM tm_events ORDER BY event_id")
    ]


def test_same_seed_same_history(tmp_path: Path) -> None:
    a = demo_run(f"sqlite:///{tmp_path / 'a.db'}", 1, 21, bus="memory")
    b = demo_run(f"sqlite:///{tmp_path / 'b.db'}", 1, 21, bus="memory")
    assert _history(a.url) == _history(b.url)
    for key in ("wall_seconds", "cpu_seconds"):
        a.summary.pop(key)
        b.summary.pop(key)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    [(samples_a,)] = _rows(a.url, "SELECT sum(value) FROM tm_samples")
    [(samples_b,)] = _rows(b.url, "SELECT sum(value) FROM tm_samples")
    assert samples_a == samples_b


def test_breakdowns_and_repairs_are_followed_by_replans(tmp_path: Path) -> None:
    fragile = tmp_path / "fragile.yaml"
    fragile.write_text(
        DEMO_FACTORY.read_text()
        .replace("mtbf_hours: 180", "mtbf_hours: 10")
        .replace("mtbf_hours: 160", "mtbf_hours: 10")
    )
    run = demo_run(
        f"sqlite:///{tmp_path / 'f.db'}", 2, 3, factory=fragile, bus="memory", predictive=False
    )
    assert run.summary["breakdowns"] > 0
    states = [
        json.loads(body)
        for (body,) in _rows(run.url, "SELECT body FROM tm_events WHERE kind = 'state'")
    ]
    downs = sorted(s["ts"] for s in states if (s.get("reason") or "").startswith("breakdown"))
    backs = sorted(s["ts"] for s in states if s.get("reason") == "repaired")
    # every breakdown and every repair asked for a replan, and a plan took each in
    requests = _rows(run.url, "SELECT trigger, done FROM replan_requests")
    by_trigger: dict[str, int] = {}
    for trigger, done in requests:
        assert done is not None
        by_trigger[trigger] = by_trigger.get(trigger, 0) + 1
    assert by_trigger.get("breakdown", 0) == len(downs)
    assert by_trigger.get("repair", 0) == len(backs)


@pytest.mark.mqtt
def test_the_loop_runs_over_mqtt(mqtt_broker: tuple[str, int], tmp_path: Path) -> None:
    host, port = mqtt_broker
    run = demo_run(
        f"sqlite:///{tmp_path / 'm.db'}",
        1,
        5,
        bus="mqtt",
        mqtt_host=host,
        mqtt_port=port,
        predictive=False,
    )
    s = run.summary
    [(events,)] = _rows(run.url, "SELECT count(*) FROM tm_events")
    assert s["events_ingested"] == events > 0
    assert s["dead_letters"] == 0
    [(gaps,)] = _rows(run.url, "SELECT count(*) FROM tm_seq_gaps")
    assert gaps == 0  # nothing lost on the way through the broker
    # and the broker changes nothing: the same seed in process gives the same history
    local = demo_run(f"sqlite:///{tmp_path / 'l.db'}", 1, 5, bus="memory", predictive=False)
    assert _history(run.url) == _history(local.url)


def test_what_if_a_machine_fails_replays_the_seed_with_the_failure() -> None:
    from datetime import timedelta

    from microfactory.cli.demo import DEMO_START
    from microfactory.cli.twin import what_if

    at = DEMO_START + timedelta(hours=10)
    result = what_if("fdm-xl", at, 6.0, seed=5, start=DEMO_START, days=30.0, after_days=0.5)
    assert result["breakdowns"]["disrupted"] == result["breakdowns"]["baseline"] + 1
    assert result["replans"]["disrupted"] >= result["replans"]["baseline"] + 2
    # the same seed gives the same orders either way
    assert result["orders_received"]["baseline"] == result["orders_received"]["disrupted"]


def test_what_if_rejects_an_unknown_machine() -> None:
    from microfactory.cli.demo import DEMO_START
    from microfactory.cli.twin import what_if
    from microfactory.core.errors import ValidationError

    with pytest.raises(ValidationError):
        what_if("nope", DEMO_START, 1.0, seed=5, start=DEMO_START, days=1.0, after_days=1.0)
