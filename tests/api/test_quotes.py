"""Quotes through the API: upload a model → price and date → accept → a released order in
the current plan → the customer's tracking link (JSON and page). Bad files, unknown quotes
and tokens, and roles."""

from __future__ import annotations

from typing import Any

import pytest

from microfactory.access import Role

from .support import Client, Env


def cube_stl(size: float = 20.0) -> bytes:
    """An ASCII STL of an axis-aligned cube with outward normals, written by hand."""
    s = size
    v = [(x, y, z) for x in (0.0, s) for y in (0.0, s) for z in (0.0, s)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = ["solid cube"]
    for a, b, c, d in quads:
        for tri in ((a, b, c), (a, c, d)):
            p = [v[i] for i in tri]
            u = [p[1][k] - p[0][k] for k in range(3)]
            w = [p[2][k] - p[0][k] for k in range(3)]
            n = (u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0])
            norm = sum(c * c for c in n) ** 0.5
            lines.append("facet normal " + " ".join(f"{c / norm:g}" for c in n))
            lines.append("outer loop")
            lines.extend(f"vertex {x:g} {y:g} {z:g}" for x, y, z in p)
            lines.append("endloop")
            lines.append("endfacet")
    lines.append("endsolid cube")
    return ("\n".join(lines) + "\n").encode()


def customer_id(env: Env) -> str:
    r = env.as_role(Role.VIEWER).get("/api/v1/customers")
    assert r.status_code == 200, r.text
    return str(r.json()[0]["id"])


def upload(client: Client, data: bytes, name: str = "cube.stl", **fields: Any) -> Any:
    form = {"material": "pla-black", "quantity": "3", "units": "mm", **fields}
    return client.post("/api/v1/quotes", files={"file": (name, data)}, data=form)


def quote_count(env: Env) -> int:
    from sqlalchemy import func, select

    from microfactory.store.quoting_tables import QuoteRow

    with env.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(QuoteRow)).scalar_one())


def test_upload_quote_accept_plan_and_track(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    r = upload(planner, cube_stl(), customer=customer_id(sqlite_env))
    assert r.status_code == 201, r.text
    quote = r.json()
    # 20 mm cube: 8000 mm³ and 2400 mm², computed by hand
    assert quote["volume_mm3"] == pytest.approx(8000.0, rel=1e-6)
    assert quote["surface_mm2"] == pytest.approx(2400.0, rel=1e-6)
    assert quote["price"] > 0 and quote["quote_id"] and quote["status"] == "held"
    assert quote["promised_date"] > quote["quoted_at"]
    assert quote["expires_at"] > quote["quoted_at"]

    viewer = sqlite_env.as_role(Role.VIEWER)
    got = viewer.get(f"/api/v1/quotes/{quote['quote_id']}")
    assert got.status_code == 200
    assert got.json()["status"] == "held" and got.json()["price"] == quote["price"]

    r = planner.post(f"/api/v1/quotes/{quote['quote_id']}/accept", json={})
    assert r.status_code == 201, r.text
    accepted = r.json()
    order_id, token = accepted["order_id"], accepted["tracking_token"]
    assert accepted["tracking_url"] == f"/track/{token}"
    assert len(token) >= 20

    order = viewer.get(f"/api/v1/orders/{order_id}").json()
    assert order["status"] == "released"
    plan = viewer.get("/api/v1/plans/current")
    assert plan.status_code == 200, plan.text
    assert any(op["work_order"].startswith(order_id) for op in plan.json()["operations"])
    assert viewer.get(f"/api/v1/quotes/{quote['quote_id']}").json()["status"] == "accepted"

    public = sqlite_env.client()  # no credentials
    tracked = public.get(f"/api/v1/track/{token}")
    assert tracked.status_code == 200, tracked.text
    body = tracked.json()
    assert body["order_id"] == order_id and body["timeline"]
    assert "price" not in tracked.text and "customer" not in body
    page = public.get(f"/track/{token}")
    assert page.status_code == 200
    assert order_id in page.text and "Progress" in page.text
    assert str(quote["price"]) not in page.text and "unit_price" not in page.text


def test_accepting_twice_is_a_conflict(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    quote_id = upload(planner, cube_stl(), customer=customer_id(sqlite_env)).json()["quote_id"]
    assert planner.post(f"/api/v1/quotes/{quote_id}/accept", json={}).status_code == 201
    again = planner.post(f"/api/v1/quotes/{quote_id}/accept", json={})
    assert again.status_code == 409
    assert "already accepted" in again.json()["detail"]


def test_an_expired_quote_cannot_be_accepted(sqlite_env: Env) -> None:
    from datetime import timedelta

    planner = sqlite_env.as_role(Role.PLANNER)
    quote_id = upload(planner, cube_stl(), customer=customer_id(sqlite_env)).json()["quote_id"]
    sqlite_env.clock.advance(timedelta(days=30))
    r = planner.post(f"/api/v1/quotes/{quote_id}/accept", json={})
    assert r.status_code == 409 and "expired" in r.json()["detail"]


def test_a_corrupt_upload_is_422_and_stores_nothing(sqlite_env: Env) -> None:
    before = quote_count(sqlite_env)
    r = upload(sqlite_env.as_role(Role.PLANNER), b"solid x\nthis is not a mesh\n", "bad.stl")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]
    assert quote_count(sqlite_env) == before


def test_unknown_quote_and_tracking_token_are_404(sqlite_env: Env) -> None:
    assert sqlite_env.as_role(Role.VIEWER).get("/api/v1/quotes/Q-nope").status_code == 404
    public = sqlite_env.client()
    assert public.get("/api/v1/track/not-a-token").status_code == 404
    page = public.get("/track/not-a-token")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


def test_a_viewer_may_read_but_not_quote(sqlite_env: Env) -> None:
    r = upload(sqlite_env.as_role(Role.VIEWER), cube_stl())
    assert r.status_code == 403
    assert sqlite_env.client().get("/api/v1/quotes/Q-nope").status_code == 401


def test_uploads_may_exceed_the_general_body_limit_but_other_routes_may_not(
    sqlite_env: Env,
) -> None:
    big = cube_stl() + b" " * 1_200_000  # trailing whitespace: still a valid ASCII STL
    planner = sqlite_env.as_role(Role.PLANNER)
    assert upload(planner, big).status_code != 413
    r = planner.post("/api/v1/orders", content=b"{" + b" " * 1_200_000 + b"}")
    assert r.status_code == 413


def test_send_then_list_quotes_with_their_states(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    with_customer = upload(planner, cube_stl(), customer=customer_id(sqlite_env)).json()
    without = upload(planner, cube_stl(10.0)).json()
    sent = planner.post(f"/api/v1/quotes/{with_customer['quote_id']}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    refused = planner.post(f"/api/v1/quotes/{without['quote_id']}/send")
    assert refused.status_code == 422 and "names no customer" in refused.text
    listed = sqlite_env.as_role(Role.VIEWER).get("/api/v1/quotes").json()
    states = {q["id"]: q["status"] for q in listed}
    assert states == {with_customer["quote_id"]: "sent", without["quote_id"]: "held"}
    assert listed[0]["id"] == without["quote_id"]  # newest first
    assert (
        sqlite_env.as_role(Role.VIEWER)
        .post(f"/api/v1/quotes/{without['quote_id']}/send")
        .status_code
        == 403
    )
