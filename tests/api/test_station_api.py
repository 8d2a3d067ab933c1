"""The station's other actions over the API: pause and resume, a stop with a reason and back
up, a measurement — each stored as the event a machine would send, with the caller as its
source; refusals are 409/422 with the reason; only operators (and admins) may record."""

from __future__ import annotations

from sqlalchemy import text

from microfactory.access import Role

from .support import Env
from .test_operations import _planned_print


def kinds(env: Env) -> list[str]:
    with env.container.engine.connect() as conn:
        return [k for (k,) in conn.execute(text("SELECT kind FROM tm_events ORDER BY id"))]


def test_pause_resume_and_a_stop_over_the_api(sqlite_env: Env) -> None:
    operation, machine = _planned_print(sqlite_env)
    operator = sqlite_env.as_role(Role.OPERATOR)
    assert operator.post(f"/api/v1/operations/{operation}/start", json={}).status_code == 200
    paused = operator.post(f"/api/v1/operations/{operation}/pause", json={})
    assert paused.status_code == 200, paused.text
    assert paused.json() == {
        "machine": machine,
        "state": "NotExecuting",
        "mode": "idle",
        "reason": f"paused:{operation}",
    }
    again = operator.post(f"/api/v1/operations/{operation}/pause", json={})
    assert again.status_code == 409 and "paused already" in again.json()["detail"]
    resumed = operator.post(f"/api/v1/operations/{operation}/resume", json={})
    assert resumed.status_code == 200 and resumed.json()["state"] == "Executing"
    down = operator.post(f"/api/v1/machines/{machine}/downtime", json={"reason": "no_material"})
    assert down.status_code == 200 and down.json()["reason"] == "down:no_material"
    up = operator.post(f"/api/v1/machines/{machine}/up", json={})
    assert up.status_code == 200 and up.json()["reason"] is None
    assert kinds(sqlite_env) == ["job", "state", "state", "state", "state"]


def test_bad_station_input_is_refused_and_nothing_is_stored(sqlite_env: Env) -> None:
    operation, machine = _planned_print(sqlite_env)
    operator = sqlite_env.as_role(Role.OPERATOR)
    r = operator.post(f"/api/v1/machines/{machine}/downtime", json={"reason": "coffee"})
    assert r.status_code == 422 and "unknown downtime reason" in r.json()["detail"]
    r = operator.post(f"/api/v1/operations/{operation}/pause", json={})
    assert r.status_code == 409 and "is not running" in r.json()["detail"]
    r = operator.post(
        f"/api/v1/machines/{machine}/measurements", json={"characteristic": "x", "value": 1}
    )
    assert r.status_code == 422 and "no characteristic" in r.json()["detail"]
    r = operator.post("/api/v1/machines/nope/up", json={})
    assert r.status_code == 422 and "unknown machine" in r.json()["detail"]
    viewer = sqlite_env.as_role(Role.VIEWER)
    assert viewer.post(f"/api/v1/machines/{machine}/up", json={}).status_code == 403
    assert kinds(sqlite_env) == []


def test_a_measurement_over_the_api_reaches_spc(sqlite_env: Env) -> None:
    factory = sqlite_env.ctx.stations.factory  # type: ignore[union-attr]
    char = next(c for p in factory.products for c in p.characteristics)
    operator = sqlite_env.as_role(Role.OPERATOR)
    r = operator.post(
        "/api/v1/machines/inspect/measurements",
        json={"characteristic": char.name, "value": char.nominal, "part_id": "P-1"},
    )
    assert r.status_code == 200, r.text
    assert kinds(sqlite_env) == ["measurement"]
    rows = sqlite_env.ctx.quality.measurements(characteristic=char.name)
    assert [(m["value"], m["part_id"]) for m in rows] == [(char.nominal, "P-1")]
