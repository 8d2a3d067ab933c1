"""Operators in the plan API: each planned operation names its operator and the parts of
it they attend (a printer's setup, a mill's whole run, half a person at a laser), and the
people view gives each operator's shifts and assignments, inside their shifts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from microfactory.access import Role
from microfactory.core.timeutil import to_rfc3339

from .support import NOW, Env, order_body


def _planned(env: Env) -> tuple[Any, dict[str, Any]]:
    planner = env.as_role(Role.PLANNER)
    assert planner.post("/api/v1/orders", json=order_body()).status_code == 201
    assert planner.post("/api/v1/plans/replan", json={}).status_code == 201
    plan = planner.get("/api/v1/plans/current").json()
    return planner, plan


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_each_planned_operation_names_its_operator_and_the_parts_they_attend(
    sqlite_env: Env,
) -> None:
    _, plan = _planned(sqlite_env)
    printed = [op for op in plan["operations"] if op["machine"].startswith("fdm-0")]
    assert printed, "the demo order prints on the FDM printers"
    for op in printed:  # demo: a printer needs a person only for a 10-minute setup
        assert op["operator"], op
        [setup] = op["crew"]
        assert setup["part"] == "setup" and setup["operator"] == op["operator"]
        assert setup["share"] == 100
        assert _t(setup["start"]) == _t(op["start"])
        assert _t(setup["end"]) - _t(setup["start"]) == timedelta(minutes=10)
    attended = [op for op in plan["operations"] if op["crew"]]
    for op in attended:
        for part in op["crew"]:
            assert _t(op["start"]) <= _t(part["start"]) < _t(part["end"]) <= _t(op["end"])
    runs = [op for op in attended if op["crew"][0]["part"] == "run"]
    assert runs, "finishing and inspection need a person for the whole run"
    for op in runs:
        assert (op["crew"][0]["start"], op["crew"][0]["end"]) == (op["start"], op["end"])
    nobody = [op for op in plan["operations"] if op["operator"] is None]
    assert all(op["crew"] == [] for op in nobody)


def test_the_people_view_gives_each_operator_shifts_and_assignments_inside_them(
    sqlite_env: Env,
) -> None:
    planner, plan = _planned(sqlite_env)
    people = planner.get("/api/v1/plans/current/people").json()
    assert people["version"] == plan["version"]
    ids = [lane["operator"] for lane in people["operators"]]
    assert ids[:3] == ["anna", "ben", "carla"]  # the demo crew, in factory order
    by_op = {op["operation"]: op for op in plan["operations"]}
    seen = 0
    for lane in people["operators"]:
        shifts = [(_t(s["start"]), _t(s["end"])) for s in lane["shifts"]]
        for a in lane["assignments"]:
            seen += 1
            assert a["operator"] == lane["operator"]
            assert by_op[a["operation"]]["operator"] == lane["operator"]
            start, end = _t(a["start"]), _t(a["end"])
            assert any(lo <= start and end <= hi for lo, hi in shifts), (a, shifts)
            part = {k: a[k] for k in ("operator", "part", "start", "end", "share")}
            assert part in by_op[a["operation"]]["crew"]
    assert seen == sum(len(op["crew"]) for op in plan["operations"])
    again = planner.get(f"/api/v1/plans/{plan['version']}/people").json()
    assert again == people


def test_the_people_view_window_limits_assignments_and_bad_windows_are_422(
    sqlite_env: Env,
) -> None:
    planner, _ = _planned(sqlite_env)
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=2)
    narrow = planner.get(
        "/api/v1/plans/current/people",
        params={"start": to_rfc3339(start), "end": to_rfc3339(end)},
    ).json()
    for lane in narrow["operators"]:
        for a in lane["assignments"]:
            assert _t(a["end"]) > start and _t(a["start"]) < end
        for shift in lane["shifts"]:
            assert start <= _t(shift["start"]) < _t(shift["end"]) <= end
    backwards = planner.get(
        "/api/v1/plans/current/people",
        params={"start": to_rfc3339(end), "end": to_rfc3339(start)},
    )
    assert backwards.status_code == 422
    too_long = planner.get(
        "/api/v1/plans/current/people",
        params={"start": to_rfc3339(start), "end": to_rfc3339(start + timedelta(days=93))},
    )
    assert too_long.status_code == 422
    assert planner.get("/api/v1/plans/999/people").status_code == 404


def test_no_plan_no_people_view(sqlite_env: Env) -> None:
    viewer = sqlite_env.as_role(Role.VIEWER)
    assert viewer.get("/api/v1/plans/current/people").status_code == 404
