"""Documents, exports and notifications in a real browser (headless Chromium): from an order
page open the traveller, print it to PDF and read its text back; download the orders as CSV
from the orders page; set one's notification address; and the customer's "order accepted"
mail arrives at a local SMTP server (aiosmtpd). Screenshots at 1440 and 390 px go to
artifacts/web/."""

from __future__ import annotations

import csv
import io
import re
import socket
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from microfactory.access import Role
from microfactory.connect.smtp import SmtpConfig, SmtpSender
from microfactory.orders import OrderLine
from microfactory.services.dashboard import take_order
from microfactory.services.notifications import START_MARK, NotificationService
from microfactory.services.orders import OrderRequest
from microfactory.store.notification_tables import SqlNotificationStore

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser


def place(server: LiveServer) -> str:
    ctx = server.ctx
    order = take_order(
        ctx.uow,
        ctx.clock,
        OrderRequest(
            customer="acme",
            lines=(OrderLine(product="bracket", quantity=3, parameters={"colour": "white"}),),
            due=ctx.clock.now() + timedelta(days=4),
        ),
        True,
    )
    return str(order.id)


def test_print_a_traveller_and_read_the_pdf(page: Any, live_server: LiveServer) -> None:
    order = place(live_server)
    login(page, live_server, Role.PLANNER, f"/orders/{order}")
    page.click(f'a[href="/documents/traveller/{order}-1"]')
    page.wait_for_url(f"**/documents/traveller/{order}-1")
    assert page.locator("h1").inner_text() == f"Traveller {order}-1"
    assert page.locator(f'svg[aria-label="barcode {order}-1-1"]').count() == 1
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"traveller-{width}")
    pdf = page.request.get(f"{live_server.url}/documents/traveller/{order}-1.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert f"Traveller {order}-1" in text and "pla-white" in text
    # long ids (32 hex digits) get narrower bars and still scan
    image = pdfium.PdfDocument(pdf.body())[0].render(scale=300 / 72).to_pil()
    codes = sorted(b.text for b in zxingcpp.read_barcodes(image))
    assert codes == [f"{order}-1", f"{order}-1-1", f"{order}-1-2", f"{order}-1-3"]


def test_export_the_orders_as_csv(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    order = place(live_server)
    login(page, live_server, Role.VIEWER, "/orders")
    with page.expect_download() as info:
        page.click('a[href="/export/orders.csv"]')
    target = tmp_path / "orders.csv"
    info.value.save_as(str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert order in {r["order"] for r in rows}


def test_notification_settings_and_a_mail_arrives(page: Any, live_server: LiveServer) -> None:
    store = SqlNotificationStore(live_server.ctx.uow.engine)
    store.mark(START_MARK, live_server.ctx.clock.now() - timedelta(hours=1))
    login(page, live_server, Role.QUALITY, "/settings/notifications")
    page.fill('input[name="email"]', "quality@shop.example")
    page.check('input[name="kinds"][value="quality"]')
    page.select_option('select[name="min_severity"]', "warning")
    page.click('form[action="/settings/notifications"] button[type=submit]')
    page.wait_for_url("**/settings/notifications?saved=1")
    assert "Saved." in page.inner_text("main")
    assert page.input_value('input[name="email"]') == "quality@shop.example"
    shot(page, "notification-settings")

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        order = place(live_server)
        notify = NotificationService(
            live_server.ctx.uow,
            store,
            live_server.ctx.clock,
            sender=SmtpSender(SmtpConfig("127.0.0.1", port)),
        )
        notify.collect()
        assert notify.deliver().failed == 0
    finally:
        smtp.stop()
    subjects = {str(m["Subject"]): str(m["To"]) for m in received}
    assert subjects[f"Order {order} accepted"] == "buyer@acme.example"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", received[0].get_content())
