"""Orders and work orders through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from microfactory.access import Role

from .support import Env, order_body


def test_planner_takes_an_order_and_it_is_released_into_work_orders(env: Env) -> None:
    planner = env.as_role(Role.PLANNER)
    r = planner.post("/api/v1/orders", json=order_body(notes="urgent-ish"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "released"
    detail = planner.get(f"/api/v1/orders/{order['id']}").json()
    assert [t["status"] for t in detail["timeline"]] == ["confirmed", "released"]
    assert len(detail["work_orders"]) == 1
    assert [op["name"] for op in detail["work_orders"][0]["operations"]][:2] == ["Print", "Deburr"]


def test_order_list_is_paged_and_filtered(env: Env) -> None:
    planner = env.as_role(Role.PLANNER)
    for _ in range(3):
        assert planner.post("/api/v1/orders", json=order_body()).status_code == 201
    assert planner.post("/api/v1/orders", json=order_body(release=False)).status_code == 201
    page = planner.get("/api/v1/orders", params={"limit": 2, "offset": 0}).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    confirmed = planner.get("/api/v1/orders", params={"status": "confirmed"}).json()
    assert confirmed["total"] == 1
    assert confirmed["items"][0]["status"] == "confirmed"


def test_cancelling_an_order_cancels_its_open_work_orders(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    oid = planner.post("/api/v1/orders", json=order_body()).json()["id"]
    r = planner.post(f"/api/v1/orders/{oid}/cancel")
    assert r.status_code == 200
    wos = planner.get("/api/v1/work-orders", params={"order": oid}).json()
    assert {w["status"] for w in wos["items"]} == {"cancelled"}


def test_releasing_twice_is_a_409_conflict(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    oid = planner.post("/api/v1/orders", json=order_body()).json()["id"]
    r = planner.post(f"/api/v1/orders/{oid}/release")
    assert r.status_code == 409
    assert r.json()["title"] == "Conflict"


def test_unknown_order_is_a_404_problem(env: Env) -> None:
    r = env.as_role(Role.VIEWER).get("/api/v1/orders/SO-nope")
    assert r.status_code == 404
    assert r.json()["status"] == 404
    assert "SO-nope" in r.json()["detail"]


def test_late_filter_returns_work_orders_past_due(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    planner.post("/api/v1/orders", json=order_body(due="2026-01-12T10:00:00Z"))
    planner.post("/api/v1/orders", json=order_body(due="2026-01-30T10:00:00Z"))
    from datetime import timedelta

    sqlite_env.clock.advance(timedelta(hours=2))
    late = planner.get("/api/v1/work-orders", params={"late": "true"}).json()
    assert late["total"] == 1
    assert late["items"][0]["late"] is True


# Invalid orders: each row is one broken rule, answered 422 with a message that names it.
BAD_ORDERS = [
    (order_body(customer="nobody"), "unknown customer"),  # customer not in the factory
    (order_body(lines=[{"product": "widget", "quantity": 1}]), "unknown product"),  # product
    (order_body(lines=[{"product": "bracket", "quantity": 0}]), "greater than or equal"),  # qty
    (order_body(due="2026-01-01T00:00:00Z"), "due date must be after"),  # due in the past
    (order_body(due="2026-01-20T12:00:00"), "timezone"),  # naive timestamp
    (
        order_body(lines=[{"product": "bracket", "quantity": 1, "parameters": {"colour": "red"}}]),
        "colour",
    ),  # parameter outside its choices
    (order_body(priority=9), "less than or equal"),  # priority out of 1–5
]


def test_invalid_orders_are_422_with_a_clear_message(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    for body, fragment in BAD_ORDERS:
        r = planner.post("/api/v1/orders", json=body)
        assert r.status_code == 422, (body, r.text)
        assert fragment in r.json()["detail"], (fragment, r.json())


def test_overview_lists_every_machine_with_a_state(sqlite_env: Env) -> None:
    o = sqlite_env.as_role(Role.VIEWER).get("/api/v1/overview").json()
    assert len(o["machines"]) == 15
    assert all(m["state"] for m in o["machines"])
    assert sum(o["state_counts"].values()) == 15


def test_openapi_schema_is_served_and_docs_need_no_cdn(sqlite_env: Env) -> None:
    c = sqlite_env.client()
    schema = c.get("/api/v1/openapi.json").json()
    assert "/api/v1/orders" in schema["paths"]
    docs = c.get("/docs").text
    assert "cdn" not in docs.lower()
    assert "/static/vendor/swagger-ui-bundle.js" in docs
    assert c.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
