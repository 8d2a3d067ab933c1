"""Quality over the API: an out-of-spec part raises an alert, opens an NCR and holds its
lot; the hold is released only after the NCR is dispositioned; genealogy of the lot."""

from __future__ import annotations

from microfactory.access import Role
from microfactory.services.factory import current_factory
from microfactory.services.quality import record_measurement
from microfactory.shopfloor.events import Measurement
from microfactory.store.quality_store import SqlQualityStore

from .support import NOW, Env, order_body


def out_of_spec_part(env: Env, lot: str) -> None:
    with env.ctx.uow() as tx:
        factory = current_factory(tx)
    event = Measurement(
        event_id="m-1",
        machine="inspect",
        seq=0,
        ts=NOW,
        characteristic="hole_pitch",
        value=40.9,
        unit="mm",
        part_id="P-1",
        lot_id=lot,
    )
    alerts = record_measurement(SqlQualityStore(env.container.engine), factory, event)
    assert [a.kind.value for a in alerts] == ["out_of_spec"]


def test_hold_is_released_only_after_the_ncr_is_dispositioned(sqlite_env: Env) -> None:
    order = sqlite_env.as_role(Role.PLANNER).post("/api/v1/orders", json=order_body()).json()
    lot = f"LOT-{order['id']}-1"
    out_of_spec_part(sqlite_env, lot)
    quality = sqlite_env.as_role(Role.QUALITY)
    alerts = quality.get("/api/v1/alerts", params={"open": "true"}).json()
    assert alerts["total"] == 1 and alerts["items"][0]["kind"] == "out_of_spec"
    holds = quality.get("/api/v1/quality/holds").json()
    assert [h["lot"] for h in holds] == [lot]
    refused = quality.post(f"/api/v1/quality/holds/{lot}/release", json={})
    assert refused.status_code == 409
    ncr = quality.get("/api/v1/quality/ncrs").json()[0]
    done = quality.post(
        f"/api/v1/quality/ncrs/{ncr['id']}/disposition", json={"disposition": "scrap"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["disposition"] == "scrap"
    released = quality.post(f"/api/v1/quality/holds/{lot}/release", json={"note": "scrapped"})
    assert released.status_code == 200, released.text
    assert released.json()["released_by"] == "quality"
    with sqlite_env.ctx.uow() as tx:  # planning is told, so the lot's work is planned again
        assert ("hold_released", lot) in [(r.trigger, r.reason) for r in tx.replans.pending()]
    assert quality.get("/api/v1/quality/holds").json() == []


def test_operator_may_not_disposition(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.OPERATOR).post(
        "/api/v1/quality/ncrs/NCR-1/disposition", json={"disposition": "scrap"}
    )
    assert r.status_code == 403


def test_genealogy_of_a_lot_names_its_order(sqlite_env: Env) -> None:
    order = sqlite_env.as_role(Role.PLANNER).post("/api/v1/orders", json=order_body()).json()
    lot = f"LOT-{order['id']}-1"
    out_of_spec_part(sqlite_env, lot)
    r = sqlite_env.as_role(Role.VIEWER).get(f"/api/v1/quality/trace/{lot}")
    assert r.status_code == 200, r.text
    assert order["id"] in r.text
