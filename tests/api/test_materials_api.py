"""Materials over the API: stores (operator) receive and adjust, a planner places purchase
orders, a viewer only reads; bad input is a 422 naming the field; CSV exports; stock alerts
join the dashboard's alerts."""

from __future__ import annotations

import csv
import io

import pytest

from microfactory.access import Role

from .support import Env


def test_an_operator_receives_and_adjusts_a_lot(env: Env) -> None:
    stores = env.as_role(Role.OPERATOR)
    r = stores.post(
        "/api/v1/materials/receipts",
        json={"material": "petg", "lot": "PETG-9", "quantity": 1000, "unit": "g",
              "supplier": "Prusament", "location": "rack-3"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["lot"], r.json()["quantity"], r.json()["unit"]) == ("PETG-9", 1.0, "kg")
    r = stores.post(
        "/api/v1/materials/adjustments",
        json={"lot": "PETG-9", "delta": -0.25, "reason": "spool weighed"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["quantity"] == 0.75
    lots = env.as_role(Role.VIEWER).get("/api/v1/materials/stock", params={"material": "petg"})
    assert [x["lot"] for x in lots.json()] == ["PETG-2610", "PETG-2612", "PETG-9"]
    moves = stores.get("/api/v1/materials/movements", params={"lot": "PETG-9"}).json()
    assert [m["kind"] for m in moves] == ["receipt", "adjustment"]
    assert moves[0]["source"] == "user:operator"
    balance = stores.get("/api/v1/materials/balance").json()
    assert balance["balanced"] is True


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"material": "nylon", "lot": "X", "quantity": 1}, "material"),  # unknown material
        ({"material": "petg", "lot": "X", "quantity": -1}, "quantity"),  # negative
        ({"material": "petg", "lot": "X", "quantity": 1, "unit": "l"}, "unit"),  # mismatch
        ({"material": "petg", "lot": "X", "quantity": 1, "expires": "2020-01-01T00:00:00Z"},
         "expires"),  # expired
    ],
)  # fmt: skip
def test_a_bad_receipt_is_a_422_naming_the_field(sqlite_env: Env, body: dict, where: str) -> None:  # type: ignore[type-arg]
    r = sqlite_env.as_role(Role.OPERATOR).post("/api/v1/materials/receipts", json=body)
    assert r.status_code == 422 and r.json()["where"] == where
    lots = sqlite_env.as_role(Role.VIEWER).get("/api/v1/materials/stock").json()
    assert "X" not in {x["lot"] for x in lots}


def test_a_planner_orders_and_stores_receive(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.OPERATOR).post(
        "/api/v1/materials/purchase-orders", json={"material": "alu-6061", "quantity": 50}
    )
    assert r.status_code == 403  # stores receive; purchasing is the planner's
    r = sqlite_env.as_role(Role.PLANNER).post(
        "/api/v1/materials/purchase-orders", json={"material": "alu-6061", "quantity": 50}
    )
    assert r.status_code == 201, r.text
    po = r.json()
    assert (po["supplier"], po["status"], po["unit"]) == ("Metals BV", "open", "kg")
    r = sqlite_env.as_role(Role.OPERATOR).post(
        f"/api/v1/materials/purchase-orders/{po['id']}/receive", json={"location": "bar-rack"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received" and r.json()["lot"] == f"{po['id']}-L1"
    again = sqlite_env.as_role(Role.OPERATOR).post(
        f"/api/v1/materials/purchase-orders/{po['id']}/receive", json={}
    )
    assert again.status_code == 409


def test_suggestions_and_csv_exports(sqlite_env: Env) -> None:
    viewer = sqlite_env.as_role(Role.VIEWER)
    suggestions = viewer.get("/api/v1/materials/suggestions")
    assert suggestions.status_code == 200 and isinstance(suggestions.json(), list)
    stock = viewer.get("/api/v1/materials/stock.csv")
    assert stock.status_code == 200 and stock.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(stock.text)))
    assert len(rows) == 11 and {"material", "lot", "quantity", "unit"} <= set(rows[0])
    ledger = viewer.get("/api/v1/materials/movements.csv")
    assert [r["kind"] for r in csv.DictReader(io.StringIO(ledger.text))] == ["receipt"] * 11


def test_low_stock_joins_the_alerts(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.OPERATOR).post(
        "/api/v1/materials/adjustments",
        json={"lot": "PLA-W-2612", "count": 1.0, "reason": "spool dropped"},
    )
    assert r.status_code == 201, r.text
    alerts = sqlite_env.as_role(Role.VIEWER).get("/api/v1/alerts").json()["items"]
    low = [a for a in alerts if a["source"] == "materials"]
    assert [a["kind"] for a in low] == ["low_stock"] and "PLA white" in low[0]["message"]
