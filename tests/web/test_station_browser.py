"""The operator terminal in a real browser (headless Debian Chromium) at tablet size: an
operator scans a work order, starts its operation, finishes it with good and scrap parts, and
the order's operation is done; the machines index follows it. Screenshots go to
artifacts/web/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.support import PASSWORD, order_body
from microfactory.access import Role

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser


def planned_order(server: LiveServer) -> tuple[str, str, str]:
    """A planner takes an order and replans over the API: (operation, machine, work order)
    of its first step."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        r = c.post("/api/v1/auth/login", json={"username": "planner", "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {"X-CSRF-Token": r.json()["csrf_token"]}
        created = c.post("/api/v1/orders", json=order_body(), headers=headers)
        assert created.status_code == 201, created.text
        order = created.json()["id"]
        plan = c.post("/api/v1/plans/replan", json={"reason": "shift"}, headers=headers)
        assert plan.status_code == 201, plan.text
        ops = c.get("/api/v1/plans/current").json()["operations"]
    mine = sorted(
        (op for op in ops if op["work_order"].startswith(order)), key=lambda o: o["start"]
    )
    return mine[0]["operation"], mine[0]["machine"], mine[0]["work_order"]


def operation_status(server: LiveServer, operation: str) -> tuple[str, int, int]:
    with server.ctx.uow() as tx:
        op = tx.work_orders.get_operation(operation)
    return op.status.value, op.good, op.rejected


def test_an_operator_starts_and_finishes_an_operation_on_the_terminal(
    browser: Any, live_server: LiveServer
) -> None:
    operation, machine, work_order = planned_order(live_server)
    context = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        login(page, live_server, Role.OPERATOR, next_path=f"/stations/{machine}")
        # a barcode scanner types the work order and Enter into the focused field
        assert page.evaluate("document.activeElement.id") == "code"
        page.keyboard.type(work_order)
        page.keyboard.press("Enter")
        card = page.locator(f'li.job.picked[data-operation="{operation}"]')
        card.wait_for()
        box = card.get_by_role("button", name="Start").bounding_box()
        assert box is not None and box["height"] >= 48  # a touch target
        card.get_by_role("button", name="Start").click()
        page.get_by_role("status").filter(has_text="started").wait_for()
        assert operation_status(live_server, operation)[0] == "running"
        card = page.locator(f'li.job[data-operation="{operation}"]')
        card.get_by_label("Good").fill("3")
        card.get_by_label("Scrap").fill("1")
        shot(page, "station-running")
        card.get_by_role("button", name="Finish").click()
        page.get_by_role("status").filter(has_text="finished").wait_for()
        assert operation_status(live_server, operation) == ("done", 3, 1)
        shot(page, "station-finished")
    finally:
        context.close()


def test_the_machines_index_follows_a_stop_reported_at_a_station(
    page: Any, live_server: LiveServer
) -> None:
    machine = "laser"
    login(page, live_server, Role.VIEWER, next_path="/machines")
    row = page.locator(f'#machines tr[data-machine="{machine}"]')
    row.wait_for()
    assert row.get_attribute("data-state") != "OutOfService"
    stations = live_server.ctx.stations
    stations.downtime(machine, "breakdown", "operator", note="belt snapped")
    try:
        page.locator(
            f'#machines tr[data-machine="{machine}"][data-state="OutOfService"]'
        ).wait_for()
        assert "belt snapped" in row.inner_text()
        shot(page, "machines-index")
    finally:
        stations.back_up(machine, "operator")


def test_the_terminal_fits_a_phone(browser: Any, live_server: LiveServer) -> None:
    operation, machine, _ = planned_order(live_server)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, live_server, Role.OPERATOR, next_path=f"/stations/{machine}")
        page.locator(f'li.job[data-operation="{operation}"]').wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the terminal scrolls sideways at 390 px ({width} px)"
        shot(page, "station-390")
    finally:
        context.close()


def test_a_technician_closes_a_pm_with_its_checklist_in_the_browser(
    page: Any, live_server: LiveServer
) -> None:
    from microfactory.maintenance.tpm import DEFAULT_PLANS, open_pm, plans_for
    from microfactory.services.tpm import maintenance_row

    ctx = live_server.ctx
    factory = ctx.stations.factory
    machine = next(m for m in factory.machines if plans_for(m.type, DEFAULT_PLANS))
    plan = plans_for(machine.type, DEFAULT_PLANS)[0]
    wo = open_pm(plan, machine.id, machine.type, "PM-09001", ctx.clock.now())
    with ctx.uow() as tx:
        tx.records.save_maintenance(maintenance_row(wo.plan_window(ctx.clock.now())))
        tx.commit()
    ctx.cache.clear()
    login(page, live_server, Role.MAINTENANCE, next_path="/maintenance")
    page.get_by_role("link", name="PM-09001").first.click()
    page.wait_for_url(f"{live_server.url}/maintenance/PM-09001")
    page.get_by_role("button", name="Start work (machine in maintenance)").click()
    page.get_by_role("status").filter(has_text="Work started").wait_for()
    for item in wo.checklist:
        page.get_by_label(item).check()
    page.get_by_label("Parts used").fill("nozzle 0.4, 1")
    page.get_by_label("Hours worked").fill("0.5")
    shot(page, "maintenance-close")
    page.get_by_role("button", name="Close work order").click()
    page.get_by_role("status").filter(has_text="Work order closed").wait_for()
    assert page.locator("#wo-status").inner_text() == "done"
    row = ctx.maintenance_work.get("PM-09001")
    assert (row["status"], row["labour_hours"], row["parts"][0]["part"]) == (
        "done",
        0.5,
        "nozzle 0.4",
    )
