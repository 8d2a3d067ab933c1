"""`microfactory notify ...` as a user runs it: set a user's alert settings (refused with the
field when wrong), collect the notices, deliver them to a real SMTP server, list the outbox."""

from __future__ import annotations

import json
import sys

import pytest

from microfactory.cli.main import main
from microfactory.services.notifications import START_MARK
from microfactory.store.notification_tables import SqlNotificationStore

from .conftest import T0, Shop, SmtpServer


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["microfactory", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_settings_collect_deliver_and_outbox(
    shop: Shop,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import timedelta

    db = str(shop.container.engine.url.render_as_string(hide_password=False))
    SqlNotificationStore(shop.container.engine).mark(START_MARK, T0 - timedelta(hours=2))
    code, out, _ = cli(
        monkeypatch,
        capsys,
        "notify",
        "settings",
        "quinn",
        "--email",
        "q@shop.example",
        "--kinds",
        "quality",
        "--min-severity",
        "critical",
        "--db",
        db,
        "--json",
    )
    assert code == 0 and json.loads(out)["kinds"] == ["quality"]
    code, _, err = cli(
        monkeypatch, capsys, "notify", "settings", "quinn", "--kinds", "payroll", "--db", db
    )
    assert code == 2 and "payroll" in err
    code, out, _ = cli(monkeypatch, capsys, "notify", "collect", "--db", db, "--json")
    assert code == 0 and json.loads(out)["queued"] >= 3  # accepted ×2, shipped (+ late by now)
    monkeypatch.setenv("MICROFACTORY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MICROFACTORY_SMTP_PORT", str(smtp_server.port))
    code, out, _ = cli(monkeypatch, capsys, "notify", "deliver", "--db", db, "--json")
    result = json.loads(out)
    assert code == 0 and result["failed"] == 0 and result["sent"] >= 3
    assert len(smtp_server.inbox.messages) == result["sent"]
    code, out, _ = cli(
        monkeypatch, capsys, "notify", "outbox", "--status", "sent", "--db", db, "--json"
    )
    assert {r["key"] for r in json.loads(out)} >= {"order-accepted:SO-1", "order-shipped:SO-1"}


def test_deliver_without_an_smtp_server_says_so(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MICROFACTORY_SMTP_HOST", raising=False)
    db = str(shop.container.engine.url.render_as_string(hide_password=False))
    code, _, err = cli(monkeypatch, capsys, "notify", "deliver", "--db", db)
    assert code == 6 and "MICROFACTORY_SMTP_HOST" in err
