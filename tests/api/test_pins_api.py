"""Pins through the API: a planner pins an operation to another machine and a start, the
plan keeps it there, unpins it; bad pins are 422 and store nothing; a viewer cannot pin."""

from __future__ import annotations

from datetime import timedelta

from microfactory.access import Role
from microfactory.core.timeutil import to_rfc3339

from .support import NOW, Env, order_body


def _printed_operation(plan: dict[str, object]) -> tuple[str, str]:
    """An operation on an FDM printer and another FDM printer that can run it."""
    for op in plan["operations"]:  # type: ignore[attr-defined]
        if op["machine"].startswith("fdm-0"):
            other = "fdm-02" if op["machine"] != "fdm-02" else "fdm-03"
            return op["operation"], other
    raise AssertionError("no printed operation in the plan")


def test_a_planner_pins_and_unpins_an_operation_and_the_plan_follows(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    assert planner.post("/api/v1/orders", json=order_body()).status_code == 201
    assert planner.post("/api/v1/plans/replan", json={}).status_code == 201
    operation, machine = _printed_operation(planner.get("/api/v1/plans/current").json())
    start = to_rfc3339(NOW + timedelta(days=2, hours=1))
    r = planner.request(
        "PUT", f"/api/v1/plans/pins/{operation}", json={"machine": machine, "start": start}
    )
    assert r.status_code == 200, r.text
    assert f"pin {operation}" in r.json()["reason"]
    plan = planner.get("/api/v1/plans/current").json()
    placed = next(op for op in plan["operations"] if op["operation"] == operation)
    assert (placed["machine"], placed["start"]) == (machine, start)
    pins = sqlite_env.as_role(Role.VIEWER).get("/api/v1/plans/pins").json()
    assert [(p["operation"], p["machine"], p["by"]) for p in pins] == [
        (operation, machine, "planner")
    ]
    record = sqlite_env.ctx.audit.find(limit=1)[0]
    assert record.action == f"PUT /api/v1/plans/pins/{operation}"
    assert "pin" in record.detail
    gone = planner.request("DELETE", f"/api/v1/plans/pins/{operation}")
    assert gone.status_code == 200, gone.text
    assert planner.get("/api/v1/plans/pins").json() == []
    assert planner.request("DELETE", f"/api/v1/plans/pins/{operation}").status_code == 404


def test_bad_pins_are_422_and_store_nothing(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    assert planner.post("/api/v1/orders", json=order_body()).status_code == 201
    assert planner.post("/api/v1/plans/replan", json={}).status_code == 201
    operation, machine = _printed_operation(planner.get("/api/v1/plans/current").json())
    bad = [
        {"machine": "inspect"},  # cannot print
        {"machine": "teleporter"},  # no such machine
        {"machine": machine, "start": to_rfc3339(NOW - timedelta(hours=2))},  # in the past
        {"machine": machine, "colour": "red"},  # unknown field
    ]
    for body in bad:
        r = planner.request("PUT", f"/api/v1/plans/pins/{operation}", json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
    r = planner.request("PUT", "/api/v1/plans/pins/SO-9-9-99", json={"machine": machine})
    assert r.status_code == 422
    assert planner.get("/api/v1/plans/pins").json() == []


def test_a_viewer_cannot_pin(sqlite_env: Env) -> None:
    viewer = sqlite_env.as_role(Role.VIEWER)
    r = viewer.request("PUT", "/api/v1/plans/pins/SO-1-1-1", json={"machine": "fdm-01"})
    assert r.status_code == 403
