"""E-mail notifications end to end against a real SMTP server (aiosmtpd): customers hear of
accepted, late and shipped orders; staff of alerts by role, source and severity as each chose;
the outbox queues each notice once and keeps it through an SMTP outage until it is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from api.support import Env
from microfactory.access import Role
from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.smtp import SmtpConfig, SmtpSender
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.services.alerts import Alert
from microfactory.services.factory import init_factory
from microfactory.services.notifications import START_MARK, NotificationService
from microfactory.settings import Settings
from microfactory.store.notification_tables import SqlNotificationStore

from .conftest import T0, Inbox, Shop, SmtpServer, free_port

LATER = T0 + timedelta(days=6)  # SO-2 (due T0 + 5 days) is late


def service(
    shop: Shop, port: int, *, alerts: list[Alert] | None = None, on_since: bool = True
) -> NotificationService:
    store = SqlNotificationStore(shop.container.engine)
    if on_since:  # notifications were switched on before the orders came in
        store.mark(START_MARK, T0 - timedelta(hours=2))
    auth = shop.container.auth()
    return NotificationService(
        shop.container.uow,
        store,
        FixedClock(LATER),
        sender=SmtpSender(SmtpConfig("127.0.0.1", port, "shop@demo.example")),
        alerts=(lambda: list(alerts)) if alerts is not None else None,
        users=auth.list_users,
    )


def test_customers_hear_of_accepted_late_and_shipped_orders(
    shop: Shop, smtp_server: SmtpServer
) -> None:
    notify = service(shop, smtp_server.port)
    assert notify.collect() == 4
    result = notify.deliver()
    assert (result.sent, result.failed, result.pending) == (4, 0, 0)
    inbox = smtp_server.inbox
    assert sorted(inbox.to("buyer@acme.example")) == ["Order SO-1 accepted", "Order SO-1 shipped"]
    assert sorted(inbox.to("parts@volt.example")) == ["Order SO-2 accepted", "Order SO-2 is late"]
    late = next(m for m in inbox.messages if m["Subject"] == "Order SO-2 is late")
    assert late["From"] == "shop@demo.example"
    assert "2026-03-07 09:00 CET" in late.get_content()  # the promise, in local time


def test_collecting_twice_queues_nothing_twice(shop: Shop, smtp_server: SmtpServer) -> None:
    notify = service(shop, smtp_server.port)
    assert notify.collect() == 4
    assert notify.collect() == 0
    notify.deliver()
    assert notify.collect() == 0 and notify.deliver().sent == 0
    assert len(smtp_server.inbox.messages) == 4


def test_switching_notifications_on_does_not_mail_the_history(
    shop: Shop, smtp_server: SmtpServer
) -> None:
    notify = service(shop, smtp_server.port, on_since=False)
    assert notify.collect() == 0  # everything happened before the first collect
    (skipped,) = notify.store.outbox()  # SO-1's shipment: kept once, never sent
    assert skipped["status"] == "skipped" and skipped["key"] == "order-shipped:SO-1"
    assert notify.collect() == 0 and notify.deliver().sent == 0
    assert smtp_server.inbox.messages == []


def test_a_down_smtp_server_loses_nothing(shop: Shop) -> None:
    port = free_port()  # nothing listens here yet
    notify = service(shop, port)
    notify.collect()
    down = notify.deliver()
    assert (down.sent, down.failed, down.pending) == (0, 4, 4)
    pending = notify.store.outbox(status="pending")
    assert all(r["attempts"] == 1 and "127.0.0.1" in r["last_error"] for r in pending)
    assert notify.deliver().failed == 0  # not due again before the back-off
    server = SmtpServer("127.0.0.1", port, Inbox())
    server.start()
    try:
        notify.clock = FixedClock(LATER + timedelta(minutes=5))
        up = notify.deliver()
        assert (up.sent, up.failed, up.pending) == (4, 0, 0)
        assert len(server.inbox.messages) == 4
    finally:
        server.stop()


def alert(source: str, kind: str, at_hours: float = 1.0) -> Alert:
    return Alert(
        id=f"{source}:{kind}",
        source=source,
        kind=kind,
        machine="fdm-01",
        subject=f"{kind} on fdm-01",
        message=f"{source} says {kind}",
        at=T0 + timedelta(hours=at_hours),
    )


def test_alerts_go_to_staff_by_role_source_and_severity(
    shop: Shop, smtp_server: SmtpServer
) -> None:
    auth = shop.container.auth()
    for name, role in (("mia", Role.MAINTENANCE), ("quinn", Role.QUALITY), ("vic", Role.VIEWER)):
        auth.add_user(name, "correct horse battery", role)
    alerts = [alert("maintenance", "breakdown"), alert("quality", "nelson-1")]
    notify = service(shop, smtp_server.port, alerts=alerts)
    notify.save_user_settings("mia", "mia@shop.example", ["maintenance", "quality"], "critical")
    notify.save_user_settings("quinn", "quinn@shop.example", ["quality"], "warning")
    notify.save_user_settings("vic", "vic@shop.example", ["quality"], "info")  # not their role
    notify.collect()
    notify.deliver()
    inbox = smtp_server.inbox
    # mia: maintenance is critical; quality is only a warning and not for her role
    assert inbox.to("mia@shop.example") == ["[critical] breakdown on fdm-01"]
    assert inbox.to("quinn@shop.example") == ["[warning] nelson-1 on fdm-01"]
    assert inbox.to("vic@shop.example") == []


@pytest.mark.parametrize(
    ("email", "kinds", "severity", "where"),
    [
        ("not an address", ["quality"], "warning", "email"),  # no @ and spaces
        ("", ["quality"], "warning", "email"),  # alerts chosen but nowhere to send them
        ("q@shop.example", ["payroll"], "warning", "kinds"),  # not an alert source
        ("q@shop.example", ["quality"], "urgent", "min_severity"),  # not a severity
    ],
)
def test_bad_user_settings_are_refused(
    shop: Shop, email: str, kinds: list[str], severity: str, where: str
) -> None:
    notify = service(shop, free_port())
    with pytest.raises(ValidationError) as exc:
        notify.save_user_settings("quinn", email, kinds, severity)
    assert exc.value.where == where
    assert notify.user_settings("quinn").email == ""  # nothing stored


def test_the_smtp_password_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MF_TEST_SMTP_PW", raising=False)
    sender = SmtpSender(
        SmtpConfig("127.0.0.1", free_port(), username="shop", password_env="MF_TEST_SMTP_PW")
    )
    with pytest.raises(ConnectorError):
        sender.send("a@b.example", "s", "b")
    assert "password" not in Settings.model_fields  # no setting can hold it


def test_the_reactor_queues_notices_as_work_finishes(
    tmp_path: object, smtp_server: SmtpServer
) -> None:
    from documents.conftest import finish, release
    from microfactory.orders import OrderLine

    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/n.db",  # type: ignore[arg-type]
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )
    container = bootstrap(settings)
    try:
        factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(T0))
        SqlNotificationStore(container.engine).mark(START_MARK, T0 - timedelta(hours=2))
        release(container, "SO-7", (OrderLine("bracket", 2, {"colour": "black"}),), "acme")
        finish(
            container,
            factory,
            [
                ("SO-7-1-1", "fdm-01", 2, 0),
                ("SO-7-1-2", "cnc", 2, 0),
                ("SO-7-1-3", "inspect", 2, 0),
            ],
        )
        rows = SqlNotificationStore(container.engine).outbox(status="pending")
        assert {r["key"] for r in rows} == {"order-accepted:SO-7", "order-shipped:SO-7"}
        assert container.notifications(FixedClock(T0 + timedelta(days=1))).deliver().sent == 2
        assert sorted(smtp_server.inbox.to("buyer@acme.example")) == [
            "Order SO-7 accepted",
            "Order SO-7 shipped",
        ]
    finally:
        container.close()


def test_a_customer_hears_of_a_quote_when_staff_send_it(
    shop: Shop, env: Env, smtp_server: SmtpServer
) -> None:
    from api.test_quotes import cube_stl, upload

    # the quotes service as the app composes it with e-mail configured
    settings = shop.container.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port}
    )
    env.ctx.quotes = replace(shop.container, settings=settings).quotes(env.clock)
    env.ctx.auth.add_user("planner", "correct horse battery", Role.PLANNER)
    token, _ = env.ctx.auth.issue_token("planner", "quotes")
    planner = env.client(token)
    notify = service(shop, smtp_server.port)
    notify.collect()  # the orders' notices first
    r = upload(planner, cube_stl(), customer="volt")
    assert r.status_code in (200, 201), r.text
    quote_id = r.json()["quote_id"]
    assert notify.collect() == 0  # made and held, not sent: the customer hears nothing yet
    assert planner.post(f"/api/v1/quotes/{quote_id}/send").status_code == 200
    (queued,) = [row for row in notify.store.outbox() if row["kind"] == "quote_sent"]
    assert (queued["key"], queued["status"]) == (f"quote-sent:{quote_id}", "pending")
    assert notify.collect() == 0  # the safety net finds it queued already
    notify.deliver()
    mail = next(m for m in smtp_server.inbox.messages if m["Subject"] == f"Your quote {quote_id}")
    assert mail["To"] == "parts@volt.example"
    body = mail.get_content()
    assert "pla-black" in body and " CET" in body  # material; dates in local time


def test_a_sent_quote_whose_notice_was_not_queued_is_collected(
    shop: Shop, env: Env, smtp_server: SmtpServer
) -> None:
    """Without the wiring (or when queueing failed) the next collect finds the sent quote."""
    from api.test_quotes import cube_stl, upload

    env.ctx.auth.add_user("planner", "correct horse battery", Role.PLANNER)
    token, _ = env.ctx.auth.issue_token("planner", "quotes")
    planner = env.client(token)
    notify = service(shop, smtp_server.port)
    notify.collect()
    quote_id = upload(planner, cube_stl(), customer="volt").json()["quote_id"]
    assert planner.post(f"/api/v1/quotes/{quote_id}/send").status_code == 200
    assert notify.collect() == 1
    assert notify.deliver().sent >= 1
    assert f"Your quote {quote_id}" in smtp_server.inbox.to("parts@volt.example")
