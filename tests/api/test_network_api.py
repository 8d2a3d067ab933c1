"""The hub's fleet view over HTTP: sites with lag, the overview, tables with a site filter."""

from __future__ import annotations

import json

from microfactory.access import Role
from microfactory.services.network import parse_record
from microfactory.store.network_tables import SqlHubStore

from .support import Env


def _record(site: str, seq: int, kind: str, body: dict[str, object]) -> object:
    env = {
        "site": site,
        "epoch": "e1",
        "seq": seq,
        "kind": kind,
        "key": f"{kind}-{seq}",
        "ts": "2026-11-02T08:00:00Z",
        "body": body,
    }
    return parse_record(json.dumps(env).encode())


def test_the_fleet_view_is_served_per_site(sqlite_env: Env) -> None:
    hub = SqlHubStore(sqlite_env.container.engine)
    hub.apply(
        [
            _record("site-a", 1, "counter", {"machine": "p1", "good": 3, "reject": 1}),
            _record(
                "site-b",
                1,
                "order",
                {"order_id": "O-1", "status": "confirmed", "customer": "acme", "lines": []},
            ),
        ],  # type: ignore[list-item]
        [{"site": "site-a", "epoch": "e1", "head_seq": 4, "backlog": 3}],
    )
    client = sqlite_env.as_role(Role.VIEWER)
    sites = client.get("/api/v1/network/sites").json()["sites"]
    assert [(s["site"], s["events"], s["lag_events"]) for s in sites] == [
        ("site-a", 1, 3),
        ("site-b", 1, 0),
    ]
    orders = client.get("/api/v1/network/orders", params={"site": "site-b"}).json()
    assert [o["order_id"] for o in orders] == ["O-1"]
    assert client.get("/api/v1/network/orders", params={"site": "site-a"}).json() == []
    overview = client.get("/api/v1/network/overview").json()["sites"]
    assert overview[0]["quality_ratio"] == 0.75
    assert client.get("/api/v1/network/nonsense").status_code == 422


def test_a_network_quote_on_a_server_without_a_cluster_is_refused_clearly(sqlite_env: Env) -> None:
    client = sqlite_env.as_role(Role.PLANNER)
    r = client.post(
        "/api/v1/network/quote",
        files={"file": ("part.stl", b"solid x\nendsolid x\n")},
        data={"material": "pla-black", "quantity": "2"},
    )
    assert r.status_code == 409
    assert "MICROFACTORY_NATS_URL" in r.json()["detail"]


def test_the_network_page_shows_each_site_and_filters_to_one(sqlite_env: Env) -> None:
    hub = SqlHubStore(sqlite_env.container.engine)
    hub.apply(
        [
            _record("site-a", 1, "counter", {"machine": "p1", "good": 3, "reject": 1}),
            _record("site-b", 1, "counter", {"machine": "p9", "good": 1, "reject": 0}),
        ],  # type: ignore[list-item]
    )
    client, _ = sqlite_env.login(Role.VIEWER)
    page = client.get("/network")
    assert page.status_code == 200
    assert "site-a" in page.text and "site-b" in page.text
    one = client.get("/network", params={"site": "site-b"}).text
    assert "Machines of site-b" in one and ">p9<" in one and ">p1<" not in one
