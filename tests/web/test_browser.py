"""The dashboard in a real browser (headless Debian Chromium): log in, live machine tiles,
the Gantt and replan, acknowledging an alert, a 768-px tablet, the keyboard. Screenshots go
to artifacts/web/."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from microfactory.access import Role
from microfactory.core.clock import FixedClock
from microfactory.orders import OrderLine
from microfactory.services.dashboard import take_order
from microfactory.services.ingestion import Ingester
from microfactory.services.orders import OrderRequest
from microfactory.shopfloor.events import StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser


def report_state(server: LiveServer, machine: str, state: MachineState, seq: int) -> None:
    """A machine reports a state change through the ingestion path (as the twin does)."""
    ctx = server.ctx
    store = SqlTelemetryStore(ctx.uow.engine)
    ingester = Ingester(store, clock=FixedClock(ctx.clock.now() + timedelta(minutes=1)))
    event = StateChanged(
        event_id=uuid.uuid4().hex,
        machine=machine,
        seq=seq,
        ts=ctx.clock.now(),
        state=state,
        mode=MachineMode.PROCESSING if state == MachineState.EXECUTING else MachineMode.IDLE,
        reason="jam" if state == MachineState.OUT_OF_SERVICE else None,
    )
    result = ingester.process([(topic_for("demo", "print", machine, "state"), event.to_json())])
    assert not result.dead, result.dead


def tile(page: Any, machine: str) -> Any:
    return page.locator(f'li.tile[data-machine="{machine}"]')


def test_login_then_overview_shows_every_machine(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    assert "/login" in page.url
    shot(page, "login")
    login(page, live_server)
    assert page.locator("li.tile").count() == 15
    assert "No data" in tile(page, "fdm-01").inner_text()
    shot(page, "overview")


def test_wrong_password_shows_an_error(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/login")
    page.fill("#username", "viewer")
    page.fill("#password", "definitely wrong")
    page.click("button[type=submit]")
    assert "wrong username or password" in page.locator("[role=alert]").inner_text()


def test_machine_tile_follows_the_machine_state_live(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.OPERATOR)
    target = tile(page, "fdm-02")
    assert target.get_attribute("data-state") == "Unknown"
    report_state(live_server, "fdm-02", MachineState.EXECUTING, 0)
    page.wait_for_selector('li.tile[data-machine="fdm-02"][data-state="Executing"]')
    assert "Running" in tile(page, "fdm-02").inner_text()
    report_state(live_server, "fdm-02", MachineState.OUT_OF_SERVICE, 1)
    page.wait_for_selector('li.tile[data-machine="fdm-02"][data-state="OutOfService"]')
    assert "Down · jam" in tile(page, "fdm-02").inner_text()
    shot(page, "overview-live-state")


def test_replan_makes_a_new_plan_version_on_the_gantt(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    for i in range(3):
        take_order(
            ctx.uow,
            ctx.clock,
            OrderRequest(
                customer="acme",
                lines=(OrderLine(product="bracket", quantity=2 + i),),
                due=ctx.clock.now() + timedelta(hours=10 + 6 * i),
            ),
            True,
        )
    login(page, live_server, Role.PLANNER, "/schedule")
    before = page.locator("#plan-version").get_attribute("data-version") or "0"
    page.click("#replan")
    page.wait_for_selector("#gantt .main-svg")
    after = page.locator("#plan-version").get_attribute("data-version")
    assert after is not None and int(after) == int(before) + 1
    assert page.locator("#gantt .shapelayer path").count() >= 1  # the now-line
    shot(page, "schedule-gantt")


def test_acknowledging_an_alert_records_who(page: Any, live_server: LiveServer) -> None:
    from microfactory.services.alerts import Alert

    ctx = live_server.ctx
    alert = Alert(
        id=f"QA-{uuid.uuid4().hex[:8]}",
        source="quality",
        kind="out_of_spec",
        machine="cnc-01",
        subject="alu-plate / bore_diameter",
        message="bore_diameter 8.031 mm above USL 8.02",
        at=ctx.clock.now(),
    )
    ctx.alerts.sources.append(lambda: [alert])
    login(page, live_server, Role.QUALITY)
    row = page.locator(f'tr[data-alert="{alert.id}"]')
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(live_server.url + "/")
    assert page.locator(f'tr[data-alert="{alert.id}"]').count() == 0
    acked = ctx.alerts.alerts()
    assert next(a for a in acked if a.id == alert.id).acknowledged_by == "quality"
    shot(page, "overview-after-ack")


def test_viewer_cannot_acknowledge(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.VIEWER)
    assert page.get_by_role("button", name="Acknowledge").count() == 0


def test_pages_fit_a_768px_tablet(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        login(page, live_server)
        for path in ("/", "/orders", "/schedule", "/maintenance", "/quality", "/machines/fdm-02"):
            page.goto(live_server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 768, (path, width)
            shot(page, "tablet" + path.replace("/", "-").rstrip("-"))
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_and_navigation(page: Any, live_server: LiveServer) -> None:
    login(page, live_server)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.tagName")
    assert focused in ("A", "BUTTON")


def test_new_order_form_takes_an_order(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.PLANNER, "/orders/new")
    page.select_option("#customer", "volt")
    page.select_option("#lines-0-product", "bracket")
    page.fill("#lines-0-quantity", "3")
    page.select_option("#lines-0-bracket-colour", "white")
    page.get_by_role("button", name="Take order and release").click()
    page.wait_for_url("**/orders/SO-*")
    assert "released" in page.locator("h1").inner_text()
    assert page.locator("ol.timeline li").count() == 2
    shot(page, "order-detail")


def test_api_docs_render_offline(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 20
    assert page.get_by_role("button", name="Authorize").count() == 1
    shot(page, "api-docs")


def test_customer_tracking_page_needs_no_login(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    with ctx.uow() as tx:
        customer = tx.customers.find()[0].id
    order = take_order(
        ctx.uow,
        ctx.clock,
        OrderRequest(
            customer=customer,
            lines=(OrderLine("bracket", 2, {}),),
            due=ctx.clock.now() + timedelta(days=5),
        ),
        True,
    )
    token = "browser-test-" + uuid.uuid4().hex
    with ctx.uow() as tx:
        tx.orders.set_tracking_token(order.id, token)
        tx.commit()
    page.goto(f"{live_server.url}/track/{token}")
    assert "/login" not in page.url
    assert order.id in page.locator("h1").inner_text()
    assert "released" in page.locator("h1").inner_text()
    assert page.locator("ol.timeline li").count() == 2
    assert customer not in page.content()
    shot(page, "tracking")
