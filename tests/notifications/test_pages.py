"""The notification settings page (each user their own: address, alert sources, minimum
severity; bad input shown back with the reason, nothing stored) and the customer's tracking
page: local times, no internals (no staff, no machine ids, no internal notes)."""

from __future__ import annotations

import re

from api.support import Client, Env
from microfactory.access import Role

from .conftest import Shop


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_user_edits_their_notification_settings(env: Env, client: Client) -> None:
    page = client.get("/settings/notifications")
    assert page.status_code == 200 and 'name="email"' in page.text
    assert 'href="/settings/notifications"' in page.text  # linked from the header
    r = client.post(
        "/settings/notifications",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "viewer@shop.example",
            "kinds": ["quality", "maintenance"],
            "min_severity": "critical",
        },
    )
    assert r.status_code == 303
    saved = env.ctx.notifications.user_settings("viewer")  # type: ignore[union-attr]
    assert (saved.email, saved.kinds, saved.min_severity) == (
        "viewer@shop.example",
        ("maintenance", "quality"),
        "critical",
    )
    again = client.get("/settings/notifications").text
    assert 'value="viewer@shop.example"' in again and "checked" in again


def test_bad_settings_are_shown_back_and_not_stored(env: Env, client: Client) -> None:
    page = client.get("/settings/notifications").text
    r = client.post(
        "/settings/notifications",
        data={"csrf_token": csrf_of(page), "email": "nobody", "kinds": ["quality"]},
    )
    assert r.status_code == 422 and "not an e-mail address" in r.text
    assert env.ctx.notifications.user_settings("viewer").email == ""  # type: ignore[union-attr]


def test_settings_without_the_csrf_token_are_refused(client: Client) -> None:
    r = client.post("/settings/notifications", data={"email": "x@y.example"})
    assert r.status_code == 403


def test_the_tracking_page_shows_local_times_and_no_internals(shop: Shop, env: Env) -> None:
    with shop.container.uow() as tx:
        tx.orders.set_tracking_token("SO-1", "t0k-so1-abcdefabcdef")
        tx.commit()
    r = env.client().get("/track/t0k-so1-abcdefabcdef")
    assert r.status_code == 200
    visible = re.sub(r"<[^>]+>", " ", r.text)  # the text a customer reads
    assert "2026-03-07 09:00 CET" in visible  # promised date, Europe/Berlin
    assert "2026-03-02 08:00 CET" in visible  # ordered
    assert "UTC" not in visible
    machines = {m.id for m in shop.factory.machines}
    for internal in (*machines, "fdm", "LOT-SO-1-1", "PLA-B-", "SO-1-1-"):
        assert internal not in visible, internal
    for role in Role:
        assert f"user:{role.value}" not in visible
