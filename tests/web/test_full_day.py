"""A full day at one shop, in one headless Chromium session: one server, one database, the
roles logging in and out as the day goes. Staff quote an uploaded model, send the quote
(the customer's mail arrives at a local SMTP server) and accept it; the planner replans; the
operator starts and finishes the order's print on its station and measures a part out of
tolerance at inspection (an NCR and a hold); quality dispositions the NCR, closes its CAPA
and releases the hold; the finishing station's counter brings a preventive maintenance due
and maintenance closes it with its checklist and parts; staff export the orders as CSV,
print the traveller as PDF (read back by text extraction) — and the customer's "order
accepted" and quality's alert mails arrive too.

Every step is a click or a form in the browser, except the one that is a machine's in the
issue's own flow: the finishing station reports its part counter as a shop-floor message
(topic and JSON payload, through the ingester and the reactor, as MQTT would bring it). The
test runs the notifications' delivery as `microfactory notify run` does (collect, then
deliver) on the server's own service. Screenshots go to artifacts/web/fullday/."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from api.support import FAST_HASHER, NOW, PASSWORD, seed
from api.test_quotes import cube_stl
from microfactory.access import Role
from microfactory.settings import Settings

from .conftest import ARTIFACTS, LiveServer, free_port

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "fullday"


@dataclass
class Inbox:
    """What the local SMTP server (aiosmtpd) accepted."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def subjects(self, to: str) -> list[str]:
        return [str(m["Subject"]) for m in self.messages if m["To"] == to]

    def one(self, subject: str) -> EmailMessage:
        found = [m for m in self.messages if str(m["Subject"]) == subject]
        assert len(found) == 1, (subject, [str(m["Subject"]) for m in self.messages])
        return found[0]


@dataclass
class Shop:
    server: LiveServer
    inbox: Inbox


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The dashboard with e-mail configured (MICROFACTORY_SMTP_HOST/PORT) against a local
    SMTP server, over a freshly seeded SQLite database (the demo factory, a user per role)."""
    import uvicorn

    from microfactory.api.composition import build_app
    from microfactory.bootstrap import bootstrap
    from microfactory.core.clock import FixedClock

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = int(s.getsockname()[1])
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    path = tmp_path_factory.mktemp("fullday") / "shop.db"
    db_url = f"sqlite:///{path}"
    seed(db_url)
    settings = Settings(
        database_url=db_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="shop@demo.example",
    )
    container = bootstrap(settings, migrate=False)
    # one clock for the whole shop: what people record at stations is stamped on it too
    clock = FixedClock(NOW)
    app = build_app(container, clock, FAST_HASHER, auth_clock=clock)
    app.state.ctx.sse_interval_s = 0.3
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Shop(LiveServer(f"http://127.0.0.1:{port}", app, db_url), inbox)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()
        smtp.stop()


class Day:
    """The one browser page of the day and what the roles do on it."""

    def __init__(self, page: Any, shop: Shop) -> None:
        self.page = page
        self.shop = shop
        self.url = shop.server.url
        self.ctx = shop.server.ctx
        self.step = 0

    def shot(self, name: str) -> Path:
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        target = SHOTS / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def log_in(self, role: Role, next_path: str) -> None:
        page = self.page
        page.goto(f"{self.url}/login?next={next_path}")
        page.fill("#username", role.value)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}{next_path}")
        assert role.value in page.locator("form.who").inner_text()

    def log_out(self) -> None:
        self.page.get_by_role("button", name="Log out").click()
        self.page.wait_for_url(re.compile(r".*/login.*"))

    def mail_round(self) -> int:
        """One round of the delivery loop (`microfactory notify run`): collect, deliver."""
        notify = self.ctx.notifications
        notify.collect()
        result = notify.deliver()
        assert result.failed == 0, notify.store.outbox(status="pending")
        return int(result.sent)


@pytest.fixture(scope="module")
def day(browser: Any, shop: Shop) -> Iterator[Day]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield Day(page, shop)
    finally:
        context.close()


def test_a_full_day_at_the_shop(day: Day, tmp_path: Path) -> None:
    page, ctx, inbox = day.page, day.ctx, day.shop.inbox
    # the delivery loop starts with the day: only what happens from now on is announced
    assert day.mail_round() == 0

    # 07:00 quality asks to hear of quality alerts by e-mail ---------------------------------
    day.log_in(Role.QUALITY, "/settings/notifications")
    page.fill('input[name="email"]', "quality@shop.example")
    page.check('input[name="kinds"][value="quality"]')
    page.select_option('select[name="min_severity"]', "warning")
    page.click('form[action="/settings/notifications"] button[type=submit]')
    page.wait_for_url("**/settings/notifications?saved=1")
    day.log_out()

    # 08:00 a planner quotes the customer's model, sends the quote and accepts it ------------
    day.log_in(Role.PLANNER, "/quotes")
    page.set_input_files(
        "#file", files=[{"name": "bracket.stl", "mimeType": "model/stl", "buffer": cube_stl(30.0)}]
    )
    page.select_option("#material", "petg")
    page.select_option("#product", "bracket")
    page.fill("#quantity", "4")
    page.select_option("#customer", "volt")
    page.click("#quote-submit")
    page.wait_for_url("**/quotes/Q-*")
    quote_id = page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"Q-\d{5}", quote_id)
    stored = ctx.quotes.get(quote_id)
    assert page.locator("#quote-status").inner_text() == "held"
    assert f"{stored['price']:.2f}" in page.locator("#quote-price").inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page.locator("#quote-date").inner_text())
    assert page.locator("#breakdown tr").count() >= 5  # machine time, material, … margin
    day.shot("quote")
    assert day.mail_round() == 0  # a quote only made is not mailed
    page.click("#send")
    page.wait_for_selector("#quote-status:text('sent')")
    assert day.mail_round() == 1
    mail = inbox.one(f"Your quote {quote_id}")
    assert mail["To"] == "parts@volt.example" and mail["From"] == "shop@demo.example"
    assert f"{stored['price']:.2f}" in mail.get_content() and "petg" in mail.get_content()
    day.shot("quote-sent")
    page.click("#accept")
    page.wait_for_url("**/orders/SO-*")
    order = page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"SO-\d{5}", order)
    assert "released" in page.locator("h1").inner_text()
    work_order = f"{order}-1"
    day.shot("order")

    # the planner replans the shop ---------------------------------------------------------
    page.goto(f"{day.url}/schedule")
    before = page.locator("#plan-version").get_attribute("data-version")
    with page.expect_navigation(timeout=120_000):
        page.click("#replan")
    assert page.locator("#plan-version").get_attribute("data-version") not in ("", before)
    plan = ctx.planning.current()
    assert plan is not None
    mine = sorted(
        (op for op in plan.operations if op.work_order == work_order), key=lambda o: o.start
    )
    assert [op.operation.rsplit("-", 1)[1] for op in mine] == ["1", "2", "3"]
    print_op, inspect_op = mine[0], mine[2]
    day.shot("schedule")
    day.log_out()

    # 09:00 the operator prints the order's parts: start, finish with good and scrap --------
    day.log_in(Role.OPERATOR, f"/stations/{print_op.machine}")
    page.keyboard.type(work_order)  # the scanner types into the focused field
    page.keyboard.press("Enter")
    card = page.locator(f'li.job.picked[data-operation="{print_op.operation}"]')
    card.get_by_role("button", name="Start").click()
    page.get_by_role("status").filter(has_text="started").wait_for()
    card = page.locator(f'li.job[data-operation="{print_op.operation}"]')
    card.get_by_label("Good").fill("3")
    card.get_by_label("Scrap").fill("1")
    day.shot("station-running")
    card.get_by_role("button", name="Finish").click()
    page.get_by_role("status").filter(has_text="finished").wait_for()
    with ctx.uow() as tx:
        done = tx.work_orders.get_operation(print_op.operation)
    assert (done.status.value, done.good, done.rejected) == ("done", 3, 1)
    day.shot("station-finished")

    # … and at inspection a part's hole pitch is out of tolerance: an NCR, the lot held ------
    page.goto(f"{day.url}/stations/{inspect_op.machine}")
    card = page.locator(f'li.job[data-operation="{inspect_op.operation}"]')
    form = card.locator("form.measure")
    form.locator("select[name=characteristic]").select_option("hole_pitch")
    form.locator("input[name=value]").fill("40.9")
    form.locator("input[name=part]").fill(f"{work_order}-P2")
    form.get_by_role("button", name="Record").click()
    page.get_by_role("status").first.wait_for()
    day.shot("station-measured")
    lot = f"LOT-{work_order}"
    assert lot in ctx.quality.held_lots()
    day.log_out()
    assert day.mail_round() >= 1  # the alert to quality (and the order accepted)
    alert_mail = next(m for m in inbox.messages if m["To"] == "quality@shop.example")
    assert str(alert_mail["Subject"]).startswith("[warning]")
    assert lot in str(alert_mail["Subject"]) + alert_mail.get_content()

    # 10:00 quality dispositions the NCR, closes its CAPA and releases the hold -------------
    day.log_in(Role.QUALITY, "/quality")
    item = page.locator("li[data-ncr]").filter(has_text=lot)
    ncr = item.get_attribute("data-ncr")
    assert ncr is not None and re.fullmatch(r"NCR-\d{5}", ncr)  # short, readable
    assert ncr in item.locator("strong").inner_text()
    assert ncr in alert_mail.get_content()
    item.locator("select[name=disposition]").select_option("rework")
    item.get_by_role("button", name="Disposition").click()
    page.wait_for_selector("p.notice")
    item = page.locator(f'li[data-ncr="{ncr}"]')
    assert "rework" in item.inner_text()
    item.locator("details.capa summary").click()
    item.locator("textarea[name=root_cause]").fill("bed not level at the front left corner")
    item.locator("textarea[name=corrective_action]").fill("bed levelled, first part re-measured")
    item.locator("input[name=owner]").fill("quality")
    item.locator("input[name=due]").fill((NOW + timedelta(days=7)).strftime("%Y-%m-%d"))
    item.locator("input[name=close]").check()
    item.get_by_role("button", name="Save CAPA").click()
    page.wait_for_selector("p.notice")
    assert "closed" in page.locator(f'li[data-ncr="{ncr}"]').inner_text()
    hold = page.locator(f'li[data-hold="{lot}"]')
    hold.locator("input[name=reason]").fill("reworked and re-inspected")
    hold.get_by_role("button", name="Release").click()
    page.wait_for_selector("p.notice")
    assert page.locator(f'li[data-hold="{lot}"]').count() == 0
    assert lot not in ctx.quality.held_lots()
    day.shot("quality")
    day.log_out()

    # 11:00 the finishing station reports its part counter: its PM comes due ---------------
    pm = finishing_counter_brings_its_pm_due(day)
    day.log_in(Role.MAINTENANCE, "/maintenance")
    page.get_by_role("link", name=pm).first.click()
    page.wait_for_url(f"{day.url}/maintenance/{pm}")
    page.get_by_role("button", name="Start work (machine in maintenance)").click()
    page.get_by_role("status").filter(has_text="Work started").wait_for()
    for task in ctx.maintenance_work.get(pm)["checklist"]:
        page.get_by_label(task).check()
    page.get_by_label("Parts used").fill("sanding belts, 4")
    page.get_by_label("Hours worked").fill("0.5")
    day.shot("maintenance")
    page.get_by_role("button", name="Close work order").click()
    page.get_by_role("status").filter(has_text="Work order closed").wait_for()
    assert page.locator("#wo-status").inner_text() == "done"
    row = ctx.maintenance_work.get(pm)
    assert (row["status"], row["labour_hours"], row["parts"][0]["part"]) == (
        "done",
        0.5,
        "sanding belts",
    )
    day.log_out()

    # 16:00 staff export the orders and print the traveller ---------------------------------
    day.log_in(Role.PLANNER, "/orders")
    with page.expect_download() as info:
        page.click('a[href="/export/orders.csv"]')
    target = tmp_path / "orders.csv"
    info.value.save_as(str(target))
    rows = [r for r in csv.DictReader(io.StringIO(target.read_text())) if r["order"] == order]
    assert rows and rows[0]["customer"] == "volt", rows
    page.goto(f"{day.url}/orders/{order}")
    page.click(f'a[href="/documents/traveller/{work_order}"]')
    page.wait_for_url(f"**/documents/traveller/{work_order}")
    assert page.locator("h1").inner_text() == f"Traveller {work_order}"
    day.shot("traveller")
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF").click()
    pdf = tmp_path / "traveller.pdf"
    info.value.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert f"Traveller {work_order}" in text
    for operation in (print_op.operation, inspect_op.operation):
        assert operation in text  # each step's barcode carries its id, printed beneath
    page.goto(f"{day.url}/orders/{order}")  # the printable page has no header: back to the order
    day.log_out()

    # the day's mails: the quote, the order accepted, the quality alert ----------------------
    day.mail_round()
    assert f"Order {order} accepted" in inbox.subjects("parts@volt.example")
    accepted = inbox.one(f"Order {order} accepted")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", accepted.get_content())  # local time
    assert sorted(inbox.subjects("parts@volt.example")) == sorted(
        [f"Your quote {quote_id}", f"Order {order} accepted"]
    )
    day.shot("end-of-day")


def finishing_counter_brings_its_pm_due(day: Day) -> str:
    """The finishing station's part counter arrives as a shop-floor message (the ingester
    validates and stores it, the reactor applies it): 1,400 parts since its last service, 90 %
    of its 1,500-part interval, so TPM opens a preventive work order. Its id."""
    from microfactory.services.ingestion import Ingester, IngestSettings
    from microfactory.shopfloor.topics import topic_for

    ctx = day.ctx
    stations = ctx.stations
    machine = stations.factory.machine_map["finish"]
    payload = {
        "event_id": "finish-counter-0001",
        "machine": machine.id,
        "seq": 1,
        "ts": (NOW + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        "good": 1390,
        "reject": 10,
    }
    ingester = Ingester(
        stations.telemetry,
        clock=ctx.clock,
        known_machines=list(stations.factory.machine_map),
        settings=IngestSettings(max_future=None),
    )
    topic = topic_for(ctx.site, machine.area, machine.id, "counter")
    result = ingester.process([(topic, json.dumps(payload).encode())])
    assert not result.dead, result.dead
    stations.reactor.catch_up()
    with ctx.uow() as tx:
        rows = tx.records.maintenance_orders()
    (pm,) = [r["id"] for r in rows if r["machine"] == machine.id and r["kind"] == "preventive"]
    ctx.cache.clear()  # the pages' three-second cache: show it now
    return str(pm)
