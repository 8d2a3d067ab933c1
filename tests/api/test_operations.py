"""People record work through the API on the one event path: an operator starts and finishes
an operation (stored as a job event with the operator as its source, applied by the reactor);
a refused event is 409 with the reactor's reason; only operators (and admins) may record."""

from __future__ import annotations

from sqlalchemy import text

from microfactory.access import Role

from .support import Env, order_body


def _planned_print(env: Env) -> tuple[str, str]:
    planner = env.as_role(Role.PLANNER)
    created = planner.post("/api/v1/orders", json=order_body())
    assert created.status_code == 201, created.text
    plan = planner.post("/api/v1/plans/replan", json={"reason": "shift start"})
    assert plan.status_code == 201, plan.text
    current = planner.get("/api/v1/plans/current").json()
    first = min(
        (op for op in current["operations"] if op["operation"].endswith("-1")),
        key=lambda op: op["start"],
    )
    return first["operation"], first["machine"]


def test_an_operator_starts_and_finishes_an_operation(env: Env) -> None:
    operation, machine = _planned_print(env)
    operator = env.as_role(Role.OPERATOR)
    started = operator.post(f"/api/v1/operations/{operation}/start", json={})
    assert started.status_code == 200, started.text
    assert (started.json()["status"], started.json()["machine"]) == ("running", machine)
    finished = operator.post(f"/api/v1/operations/{operation}/finish", json={"good": 3, "scrap": 1})
    assert finished.status_code == 200, finished.text
    body = finished.json()
    assert (body["status"], body["good"], body["rejected"]) == ("done", 3, 1)
    with env.container.engine.connect() as conn:
        events = conn.execute(text("SELECT kind, machine, body FROM tm_events ORDER BY id")).all()
    assert [(k, m) for k, m, _ in events] == [("job", machine), ("job", machine)]
    assert all('"source":"user:operator"' in b for _, _, b in events)
    again = operator.post(f"/api/v1/operations/{operation}/finish", json={"good": 3})
    assert again.status_code == 409
    assert "already done" in again.json()["detail"]
    # what could not be applied is shown to people as an alert, with the reason
    alerts = env.as_role(Role.VIEWER).get("/api/v1/alerts").json()["items"]
    events = [a for a in alerts if a["source"] == "events"]
    assert len(events) == 1 and "already done" in events[0]["message"]


def test_only_operators_record_work_and_bad_bodies_are_422(sqlite_env: Env) -> None:
    operation, _ = _planned_print(sqlite_env)
    viewer = sqlite_env.as_role(Role.VIEWER)
    assert viewer.post(f"/api/v1/operations/{operation}/start", json={}).status_code == 403
    operator = sqlite_env.as_role(Role.OPERATOR)
    for body in ({"good": -1}, {"good": "many"}, {"colour": "red"}, {"scrap": 10**9}):
        r = operator.post(f"/api/v1/operations/{operation}/finish", json=body)
        assert r.status_code == 422, (body, r.text)
    missing = operator.post("/api/v1/operations/SO-404-1-1/start", json={})
    assert missing.status_code == 404
    wrong = operator.post(f"/api/v1/operations/{operation}/start", json={"machine": "laser"})
    assert wrong.status_code == 409 and "cannot run" in wrong.json()["detail"]
