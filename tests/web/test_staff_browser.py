"""Staff actions in headless Chromium: a planner quotes an uploaded model (spinner while the
server works), sends and accepts it; a planner takes an order of two typed lines and rushes
it; quality dispositions an NCR, records its CAPA and releases the held lot. Screenshots go
to artifacts/web/."""

from __future__ import annotations

from typing import Any

import pytest

from api.test_quotes import cube_stl
from microfactory.access import Role
from microfactory.orders import OrderLine
from microfactory.services.dashboard import take_order
from microfactory.services.orders import OrderRequest
from microfactory.services.quality import hold_lot, list_ncrs, record_measurement
from microfactory.shopfloor.events import Measurement
from microfactory.store.quality_store import SqlQualityStore

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser


def test_staff_quote_an_uploaded_model_and_accept_it(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.PLANNER, "/quotes")
    page.set_input_files(
        "#file", files=[{"name": "cube.stl", "mimeType": "model/stl", "buffer": cube_stl(25.0)}]
    )
    page.select_option("#material", "petg")
    page.fill("#quantity", "4")
    page.select_option("#customer", "volt")
    page.click("#quote-submit")
    page.wait_for_url("**/quotes/Q-*")
    quote_id = page.url.rsplit("/", 1)[1]
    stored = live_server.ctx.quotes.get(quote_id)
    assert page.locator("#quote-status").inner_text() == "held"
    assert f"{stored['price']:.2f}" in page.locator("#quote-price").inner_text()
    assert page.locator("#breakdown tr").count() == 8
    assert "volt" in page.locator("dl.facts").inner_text()
    shot(page, "quote-detail")
    page.click("#send")
    page.wait_for_selector("#quote-status:text('sent')")
    page.click("#accept")
    page.wait_for_url("**/orders/SO-*")
    order_id = page.url.rsplit("/", 1)[1]
    assert "released" in page.locator("h1").inner_text()
    assert live_server.ctx.quotes.get(quote_id)["order_id"] == order_id
    page.goto(live_server.url + "/quotes")
    row = page.locator(f'tr[data-quote="{quote_id}"]')
    assert "accepted" in row.inner_text() and order_id in row.inner_text()
    shot(page, "quotes-list")


def test_the_quote_form_shows_a_spinner_while_the_server_works(
    page: Any, live_server: LiveServer
) -> None:
    login(page, live_server, Role.PLANNER, "/quotes")
    # the form is kept from leaving the page, so the page stays in the state it shows while
    # the server works
    page.evaluate("document.addEventListener('submit', function (ev) { ev.preventDefault(); })")
    page.set_input_files(
        "#file", files=[{"name": "cube.stl", "mimeType": "model/stl", "buffer": cube_stl()}]
    )
    page.click("#quote-submit", no_wait_after=True)
    busy = page.locator("#quote-form .busy")
    busy.wait_for(state="visible")
    assert "Quoting the model" in busy.inner_text()
    assert page.locator("#quote-submit").get_attribute("aria-disabled") == "true"
    shot(page, "quote-busy")
    assert page.locator("#quote-form").get_attribute("data-sending") == "1"  # sent once
    assert page.locator("#quote-submit").is_disabled()  # for assistive technology too


def test_planner_takes_an_order_of_two_typed_lines_and_rushes_it(
    page: Any, live_server: LiveServer
) -> None:
    login(page, live_server, Role.PLANNER, "/orders/new")
    page.select_option("#customer", "makers")
    page.select_option("#lines-0-product", "bracket")
    assert page.locator("#lines-0-bracket-colour").is_visible()
    assert not page.locator(
        '.order-line[data-line="0"] .params[data-product="sensor-kit"]'
    ).is_visible()
    page.select_option("#lines-0-bracket-colour", "white")
    page.fill("#lines-0-bracket-length_mm", "150")
    page.fill("#lines-0-quantity", "2")
    page.click("#add-line")
    page.wait_for_selector("#lines-1-product")
    assert page.locator("#lines-0-bracket-length_mm").input_value() == "150"
    page.select_option("#lines-1-product", "enclosure")
    page.fill("#lines-1-quantity", "1")
    page.get_by_role("button", name="Take order and release").click()
    page.wait_for_url("**/orders/SO-*")
    order_id = page.url.rsplit("/", 1)[1]
    with live_server.ctx.uow() as tx:
        order = tx.orders.get(order_id)
    assert [ln.product for ln in order.lines] == ["bracket", "enclosure"]
    assert order.lines[0].parameters == {"colour": "white", "length_mm": 150.0}
    page.click("#order-actions summary")
    page.click("#rush")
    page.wait_for_selector("p.notice")
    assert "rush" in page.locator("h1 ~ dl").inner_text()
    shot(page, "order-rushed")


def test_planner_edits_the_lines_of_an_order(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    order = take_order(
        ctx.uow,
        ctx.clock,
        OrderRequest(
            customer="makers",
            lines=(
                OrderLine(product="bracket", quantity=2, parameters={"colour": "white"}),
                OrderLine(product="enclosure", quantity=1),
            ),
            due=ctx.clock.now().replace(day=28),
        ),
        True,
    )
    login(page, live_server, Role.PLANNER, f"/orders/{order.id}")
    page.click("#order-actions summary")
    page.click("#edit-lines")
    page.wait_for_url(f"**/orders/{order.id}/lines")
    assert page.locator("#lines-0-bracket-colour").input_value() == "white"
    other = page.locator('.order-line[data-line="0"] .params[data-product="enclosure"]')
    assert not other.is_visible()  # only the chosen product's typed fields show
    page.check("#lines-0-remove")
    page.check("#lines-1-remove")
    page.click("#save-lines")  # every line removed: refused by the server
    alert = page.locator("[role=alert]")
    assert "at least one line" in alert.inner_text()
    assert page.locator("#lines-1-remove").is_checked()  # what was typed stays
    page.uncheck("#lines-0-remove")
    page.fill("#lines-0-quantity", "6")
    page.fill("#lines-0-bracket-length_mm", "150")
    page.click("#add-line")
    page.wait_for_selector("#lines-2-product")
    assert page.locator("#lines-0-quantity").input_value() == "6"  # kept across the round trip
    page.select_option("#lines-2-product", "sensor-kit")
    page.select_option("#lines-2-sensor-kit-colour", "black")
    page.fill("#lines-2-quantity", "2")
    shot(page, "order-lines")
    page.click("#save-lines")
    page.wait_for_url(f"**/orders/{order.id}?notice=*")
    assert page.locator("p.notice").filter(has_text="Lines changed").count() == 1
    with ctx.uow() as tx:
        stored = tx.orders.get(order.id)
        live = [w for w in tx.work_orders.find(order=order.id) if w.status.value != "cancelled"]
    assert [(ln.product, ln.quantity) for ln in stored.lines] == [("bracket", 6), ("sensor-kit", 2)]
    assert stored.lines[0].parameters == {"colour": "white", "length_mm": 150.0}
    assert sorted((w.line_no, w.product) for w in live) == [(1, "bracket"), (2, "sensor-kit")]


def test_quality_dispositions_an_ncr_and_releases_the_hold(
    page: Any, live_server: LiveServer
) -> None:
    ctx = live_server.ctx
    order = take_order(
        ctx.uow,
        ctx.clock,
        OrderRequest(
            customer="acme",
            lines=(OrderLine(product="bracket", quantity=2),),
            due=ctx.clock.now().replace(day=28),
        ),
        True,
    )
    lot = f"LOT-{order.id}-1"
    store = SqlQualityStore(ctx.uow.engine)
    with ctx.uow() as tx:
        factory = tx.factory.current()
    assert factory is not None
    record_measurement(
        store,
        factory,
        Measurement(
            event_id=f"m-{order.id}",
            machine="inspect",
            seq=0,
            ts=ctx.clock.now(),
            characteristic="hole_pitch",
            value=40.9,
            unit="mm",
            part_id="P-1",
            lot_id=lot,
        ),
    )
    hold_lot(store, lot, "out of spec", ctx.clock.now())
    ncr = next(n for n in list_ncrs(store) if n.lot_id == lot)
    login(page, live_server, Role.QUALITY, "/quality")
    item = page.locator(f'li[data-ncr="{ncr.id}"]')
    item.locator("select[name=disposition]").select_option("rework")
    item.get_by_role("button", name="Disposition").click()
    page.wait_for_selector("p.notice")
    item = page.locator(f'li[data-ncr="{ncr.id}"]')
    assert "rework" in item.inner_text()
    item.locator("details.capa summary").click()
    item.locator("textarea[name=root_cause]").fill("first layer too cold")
    item.locator("textarea[name=corrective_action]").fill("bed temperature raised")
    item.locator("input[name=owner]").fill("quality")
    item.locator("input[name=due]").fill("2026-02-01")
    item.locator("input[name=close]").check()
    item.get_by_role("button", name="Save CAPA").click()
    page.wait_for_selector("p.notice")
    assert "closed" in page.locator(f'li[data-ncr="{ncr.id}"]').inner_text()
    hold = page.locator(f'li[data-hold="{lot}"]')
    hold.locator("input[name=reason]").fill("reworked and re-inspected")
    hold.get_by_role("button", name="Release").click()
    page.wait_for_selector("p.notice")
    assert page.locator(f'li[data-hold="{lot}"]').count() == 0
    assert store.holds(lot=lot, active_only=True) == []
    shot(page, "quality-after-release")


def test_a_planner_edits_master_data_in_the_browser(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.PLANNER, "/master-data/customers")
    page.fill("#id", "brio")
    page.fill("#name", "Brio Toys")
    page.fill("#email", "buy@brio.example")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("p.notice")
    assert page.locator('li[data-entry="brio"]').count() == 1
    page.goto(live_server.url + "/master-data/materials/petg")
    text = page.locator("#yaml").input_value()
    page.fill("#yaml", text.replace("safety_stock: 20", "safety_stock: -5"))
    page.get_by_role("button", name="Check and save").click()
    alert = page.locator("[role=alert]")
    assert "safety_stock" in alert.inner_text()
    assert "safety_stock: -5" in page.locator("#yaml").input_value()  # what was typed stays
    shot(page, "master-data-refused")


WIDEST = """Array.from(document.querySelectorAll('main *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)
  .map(e => e.tagName + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))"""
"""The elements that stick out on the right (named in a failure)."""


@pytest.mark.parametrize("width", [390, 1440])
def test_staff_pages_fit_the_screen(browser: Any, live_server: LiveServer, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, Role.ADMIN)
        made = live_server.ctx.quotes.quote_upload(
            cube_stl(), "cube.stl", material="pla-black", quantity=1, units="mm"
        )
        quote_id = str(made.quote_id)
        for path in (
            "/quotes",
            f"/quotes/{quote_id}",
            "/orders/new",
            "/quality",
            "/master-data/products/bracket",
            "/admin/users",
        ):
            page.goto(live_server.url + path)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            name = path.replace("/", "-").strip("-").replace(quote_id, "detail")
            shot(page, f"staff-{width}-{name}")
            wide = page.evaluate(WIDEST)
            assert scroll <= width, (path, scroll, wide)
    finally:
        context.close()
