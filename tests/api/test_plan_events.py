"""Shop-floor events through the API: a breakdown is stored and re-planned around, the
machine comes back, bad bodies are 422 with nothing stored, readers cannot post events."""

from __future__ import annotations

from datetime import timedelta

from microfactory.access import Role
from microfactory.core.timeutil import to_rfc3339

from .support import NOW, Env


def test_machine_down_then_back_replans_and_keeps_the_downtime(env: Env) -> None:
    planner = env.as_role(Role.PLANNER)
    first = planner.post("/api/v1/plans/replan", json={"reason": "morning"})
    assert first.status_code == 201, first.text
    until = NOW + timedelta(hours=30)
    body = {"kind": "machine_down", "machine": "cnc", "until": to_rfc3339(until)}
    down = planner.post("/api/v1/plans/events", json={**body, "reason": "spindle"})
    assert down.status_code == 201, down.text
    assert down.json()["version"] == first.json()["version"] + 1
    assert down.json()["reason"] == "machine_down: spindle"
    listed = env.as_role(Role.VIEWER).get("/api/v1/plans/downtimes").json()
    assert [(d["machine"], d["reason"]) for d in listed] == [("cnc", "spindle")]
    plan = planner.get("/api/v1/plans/current").json()
    for op in plan["operations"]:
        if op["machine"] == "cnc" and not op["frozen"]:
            assert op["start"] >= to_rfc3339(until) or op["end"] <= to_rfc3339(NOW)
    back_at = NOW + timedelta(hours=2)
    back = planner.post(
        "/api/v1/plans/events",
        json={"kind": "machine_back", "machine": "cnc", "at": to_rfc3339(back_at)},
    )
    assert back.status_code == 201, back.text
    listed = planner.get("/api/v1/plans/downtimes", params={"since": to_rfc3339(NOW)}).json()
    assert [(d["machine"], d["end"]) for d in listed] == [("cnc", to_rfc3339(back_at))]


def test_bad_events_are_422_and_store_nothing(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    bad = [
        {"kind": "explode", "machine": "cnc"},
        {"kind": "machine_down"},
        {"kind": "machine_down", "machine": "teleporter"},
        {"kind": "maintenance", "machine": "cnc"},
        {"kind": "machine_down", "machine": "cnc", "until": "2026-01-12T08:00:00"},
        {"kind": "machine_down", "machine": "cnc", "until": to_rfc3339(NOW - timedelta(hours=1))},
        {"kind": "machine_down", "machine": "cnc", "colour": "red"},
    ]
    for body in bad:
        r = planner.post("/api/v1/plans/events", json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert planner.get("/api/v1/plans/downtimes").json() == []
    assert planner.get("/api/v1/plans").json() == []


def test_a_viewer_reads_downtimes_but_cannot_post_events(sqlite_env: Env) -> None:
    viewer = sqlite_env.as_role(Role.VIEWER)
    assert viewer.get("/api/v1/plans/downtimes").status_code == 200
    body = {"kind": "machine_down", "machine": "cnc"}
    assert viewer.post("/api/v1/plans/events", json=body).status_code == 403
