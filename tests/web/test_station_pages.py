"""The operator terminal, the machines index and closing maintenance, through the ASGI client:
every action is a form with the session's CSRF token and the API's permission, goes through
the one event path (stored as an event with the operator as its source) and shows its notice
or the reason it was refused."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from api.support import Env, order_body
from microfactory.access import Role

from .test_pages import logged_in


def planned(env: Env) -> tuple[str, str, str]:
    """An order planned: its first operation, the machine it is planned on, its work order."""
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
    return first["operation"], first["machine"], first["work_order"]


def events(env: Env) -> list[tuple[str, str, str]]:
    with env.container.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, machine, body FROM tm_events ORDER BY id")).all()
    return [(k, m, b) for k, m, b in rows]


def post(c: Any, url: str, csrf: str, **data: Any) -> Any:
    return c.post(url, data={**data, "csrf_token": csrf})


def test_the_terminal_shows_the_queue_with_material_and_lot(sqlite_env: Env) -> None:
    operation, machine, _ = planned(sqlite_env)
    c, _ = logged_in(sqlite_env, Role.OPERATOR)
    page = c.get(f"/stations/{machine}")  # type: ignore[attr-defined]
    assert page.status_code == 200, page.text
    assert f'data-operation="{operation}"' in page.text
    assert "Material:" in page.text and "take lot" in page.text
    assert 'name="code"' in page.text and "autofocus" in page.text


def test_an_operator_starts_pauses_resumes_and_finishes_on_the_terminal(sqlite_env: Env) -> None:
    operation, machine, _ = planned(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    base = f"/stations/{machine}/operations/{operation}"
    r = post(c, f"{base}/start", csrf)
    assert r.status_code == 303, r.text
    assert "started" in c.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert post(c, f"{base}/pause", csrf).status_code == 303
    page = c.get(f"/stations/{machine}").text  # type: ignore[attr-defined]
    assert f"paused:{operation}" in page and "Resume" in page
    assert post(c, f"{base}/resume", csrf).status_code == 303
    r = post(c, f"{base}/finish", csrf, good="4", scrap="1")
    assert r.status_code == 303
    op = sqlite_env.as_role(Role.VIEWER).get(f"/api/v1/orders/{operation.rsplit('-', 2)[0]}")
    assert op.status_code == 200
    kinds = [(k, m) for k, m, _ in events(sqlite_env)]
    assert kinds == [("job", machine), ("state", machine), ("state", machine), ("job", machine)]
    assert all('"source":"user:operator"' in b for _, _, b in events(sqlite_env))
    with sqlite_env.container.uow() as tx:
        done = tx.work_orders.get_operation(operation)
    assert (done.status.value, done.good, done.rejected) == ("done", 4, 1)


def test_a_refused_action_shows_the_reason_and_changes_nothing(sqlite_env: Env) -> None:
    operation, machine, _ = planned(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = post(c, f"/stations/{machine}/operations/{operation}/pause", csrf)
    assert r.status_code == 409 and 'role="alert"' in r.text and "is not running" in r.text
    r = post(c, f"/stations/{machine}/operations/{operation}/finish", csrf, good="many")
    assert r.status_code == 422 and "must be a whole number" in r.text
    assert events(sqlite_env) == []


def test_the_terminal_needs_the_csrf_token_and_an_operator(sqlite_env: Env) -> None:
    operation, machine, _ = planned(sqlite_env)
    url = f"/stations/{machine}/operations/{operation}/start"
    c, _ = logged_in(sqlite_env, Role.OPERATOR)
    assert c.post(url).status_code == 403  # type: ignore[attr-defined]
    viewer, viewer_csrf = logged_in(sqlite_env, Role.VIEWER)
    assert post(viewer, url, viewer_csrf).status_code == 403
    assert events(sqlite_env) == []


def test_a_scanned_work_order_picks_its_open_operation(sqlite_env: Env) -> None:
    operation, machine, work_order = planned(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = post(c, f"/stations/{machine}/scan", csrf, code=f" {work_order} ")
    assert r.status_code == 303 and f"op={operation}" in r.headers["location"]
    page = c.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert re.search(rf'class="job[^"]*picked[^"]*" id="op-{re.escape(operation)}"', page)
    r = post(c, f"/stations/{machine}/scan", csrf, code="WO-NOPE")
    assert r.status_code == 422 and "no operation or work order" in r.text


def test_downtime_with_a_reason_and_back_up(sqlite_env: Env) -> None:
    _, machine, _ = planned(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = post(c, f"/stations/{machine}/downtime", csrf, reason="breakdown", note="nozzle clog")
    assert r.status_code == 303
    page = c.get(f"/stations/{machine}").text  # type: ignore[attr-defined]
    assert "breakdown:nozzle clog" in page and "Machine back up" in page
    with sqlite_env.container.uow() as tx:  # the planner keeps the machine out until repaired
        assert tx.plans.downtimes().get(machine)
    assert post(c, f"/stations/{machine}/up", csrf).status_code == 303
    state = [b for k, _, b in events(sqlite_env) if k == "state"]
    assert '"reason":"breakdown:nozzle clog"' in state[0] and '"reason":"repaired"' in state[1]
    r = post(c, f"/stations/{machine}/downtime", csrf, reason="coffee")
    assert r.status_code == 422 and "unknown downtime reason" in r.text


def test_a_measurement_goes_to_spc(sqlite_env: Env) -> None:
    operation, machine, _ = planned(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    factory = sqlite_env.ctx.stations.factory  # type: ignore[union-attr]
    char = next(ch for p in factory.products for ch in p.characteristics)
    r = post(
        c,
        f"/stations/{machine}/measure",
        csrf,
        characteristic=char.name,
        value=str(char.nominal),
        operation=operation,
    )
    assert r.status_code == 303, r.text
    kinds = [k for k, _, _ in events(sqlite_env)]
    assert kinds == ["measurement"]
    assert len(sqlite_env.ctx.quality.measurements(characteristic=char.name)) == 1
    r = post(c, f"/stations/{machine}/measure", csrf, characteristic="colour", value="1")
    assert r.status_code == 422 and "no characteristic" in r.text


def test_the_machines_index_lists_every_machine(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    page = c.get("/machines")  # type: ignore[attr-defined]
    assert page.status_code == 200
    factory = sqlite_env.ctx.stations.factory  # type: ignore[union-attr]
    for m in factory.machines:
        assert f'data-machine="{m.id}"' in page.text
    assert 'sse-connect="/stream/machines"' in page.text


def open_pm_order(env: Env) -> dict[str, Any]:
    """A preventive work order opened (as TPM opens one when a plan comes due)."""
    from api.support import NOW
    from microfactory.maintenance.tpm import DEFAULT_PLANS, open_pm, plans_for
    from microfactory.services.tpm import maintenance_row

    factory = env.ctx.stations.factory  # type: ignore[union-attr]
    machine = next(m for m in factory.machines if plans_for(m.type, DEFAULT_PLANS))
    plan = plans_for(machine.type, DEFAULT_PLANS)[0]
    wo = open_pm(plan, machine.id, machine.type, "PM-00001", NOW)
    with env.container.uow() as tx:
        tx.records.save_maintenance(maintenance_row(wo))
        tx.commit()
    return maintenance_row(wo)


def test_a_technician_closes_a_pm_with_its_checklist_and_parts(sqlite_env: Env) -> None:
    wo = open_pm_order(sqlite_env)
    assert wo["checklist"], "the demo plans have checklists"
    c, csrf = logged_in(sqlite_env, Role.MAINTENANCE)
    page = c.get("/maintenance/PM-00001")  # type: ignore[attr-defined]
    assert page.status_code == 200 and all(item in page.text for item in wo["checklist"])
    # one item not ticked: refused, naming it; nothing stored, no event
    r = c.post(  # type: ignore[attr-defined]
        "/maintenance/PM-00001/close",
        data={"checked": wo["checklist"][1:], "parts": "", "labour_hours": "1", "csrf_token": csrf},
    )
    assert r.status_code == 422 and wo["checklist"][0] in r.text
    assert events(sqlite_env) == []
    r = c.post(  # type: ignore[attr-defined]
        "/maintenance/PM-00001/close",
        data={"checked": wo["checklist"], "parts": "x", "labour_hours": "1", "csrf_token": csrf},
    )
    assert r.status_code == 422 and "part, quantity[, unit]" in r.text
    r = c.post(  # type: ignore[attr-defined]
        "/maintenance/PM-00001/close",
        data={
            "checked": wo["checklist"],
            "parts": "nozzle 0.4, 1\nPTFE tube, 0.3, m",
            "labour_hours": "1.5",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303, r.text
    closed = sqlite_env.ctx.maintenance_work.get("PM-00001")  # type: ignore[union-attr]
    assert closed["status"] == "done" and closed["labour_hours"] == 1.5
    assert [(p["part"], p["quantity"], p["unit"]) for p in closed["parts"]] == [
        ("nozzle 0.4", 1.0, "pcs"),
        ("PTFE tube", 0.3, "m"),
    ]
    [(kind, machine, body)] = events(sqlite_env)
    assert (kind, machine) == ("state", wo["machine"])
    assert '"reason":"pm_done:PM-00001"' in body and '"source":"user:maintenance"' in body
    again = c.post(  # type: ignore[attr-defined]
        "/maintenance/PM-00001/close",
        data={"checked": wo["checklist"], "labour_hours": "1", "csrf_token": csrf},
    )
    assert again.status_code == 409 and "not open" in again.text


def test_an_operator_may_not_close_maintenance(sqlite_env: Env) -> None:
    wo = open_pm_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = c.post(  # type: ignore[attr-defined]
        "/maintenance/PM-00001/close", data={"checked": wo["checklist"], "csrf_token": csrf}
    )
    assert r.status_code == 403
    assert sqlite_env.ctx.maintenance_work.get("PM-00001")["status"] == "open"  # type: ignore[union-attr]
