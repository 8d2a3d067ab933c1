"""The Materials page: through the ASGI client (CSRF, roles, the reason of a refused
receipt on the form) and in headless Chromium (stock by lot, the consumption chart, a lot
received through the form, a purchase order received with one click)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.support import Env
from microfactory.access import Role
from microfactory.orders.stock import Movement, MovementKind
from microfactory.services.factory import current_factory
from microfactory.services.purchasing import PurchaseRequest, place_purchase_order

from .conftest import LiveServer, login, shot
from .test_pages import logged_in

RECEIPT = {"material": "petg", "lot": "PETG-77", "quantity": "2.5", "location": "rack-7"}


def test_the_page_renders_for_a_viewer_without_the_receive_button(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    r = c.get("/materials")  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert "PETG-2610" in r.text and "Purchase suggestions" in r.text
    assert "may not receive stock" in r.text


def test_a_receipt_needs_the_session_csrf_token(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.OPERATOR)
    r = c.post("/materials/receive", data=RECEIPT)  # type: ignore[attr-defined]
    assert r.status_code == 403


def test_stores_receive_a_lot_on_the_page(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = c.post("/materials/receive", data={**RECEIPT, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/materials?received=PETG-77"
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Lot PETG-77 received." in page.text and "rack-7" in page.text


def test_a_refused_receipt_shows_the_field_on_the_form(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.OPERATOR)
    r = c.post(  # type: ignore[attr-defined]
        "/materials/receive", data={**RECEIPT, "quantity": "-3", "csrf_token": csrf}
    )
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert "quantity: must be positive" in r.text
    assert 'value="PETG-77"' in r.text  # what was typed is kept


def test_a_viewer_may_not_receive(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.VIEWER)
    r = c.post("/materials/receive", data={**RECEIPT, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]


@pytest.mark.browser
def test_materials_page_in_a_browser(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    now = ctx.clock.now()
    with ctx.uow() as tx:
        factory = current_factory(tx)
        tx.stock.record(
            [
                Movement(
                    MovementKind.ISSUE,
                    "petg",
                    "PETG-2610",
                    0.8,
                    now - timedelta(days=d),
                    "SO-X-1",
                    "SO-X-1-1",
                )
                for d in (1, 2, 4)
            ]
        )
        po = place_purchase_order(tx, factory, PurchaseRequest("paint-ral", 5.0), now)
        tx.commit()
    login(page, live_server, Role.OPERATOR, "/materials")
    page.wait_for_selector("#consumption .main-svg")
    assert "PETG-2610" in page.locator("#lots").inner_text()
    assert po.id in page.locator("#purchase-orders").inner_text()
    page.fill("#lot", "PETG-88")
    page.fill("#quantity", "1.2")
    page.fill("#location", "rack-8")
    page.select_option("#material", "petg")
    page.click("#receive button[type=submit]")
    page.wait_for_url(f"{live_server.url}/materials?received=PETG-88")
    assert "PETG-88" in page.locator("#lots").inner_text()
    row = page.locator("#purchase-orders tr", has_text=po.id)
    row.get_by_role("button", name="Receive").click()
    page.wait_for_url(f"{live_server.url}/materials?received={po.id}-L1")
    assert f"{po.id}-L1" in page.locator("#lots").inner_text()
    shot(page, "materials")
