"""Genealogy both ways on SQLite and PostgreSQL: a part back to its order, operations,
machines and material lots; a material lot forward to every work order, order, part and
customer."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.main import main
from microfactory.core.clock import FixedClock
from microfactory.core.errors import NotFound
from microfactory.orders import OrderLine, SerialNumber, WorkStatus
from microfactory.orders.stock import Movement, MovementKind
from microfactory.services.factory import init_factory
from microfactory.services.genealogy import trace
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.quality import record_measurement
from microfactory.shopfloor.events import Measurement
from microfactory.store.quality_store import SqlQualityStore
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def build_shop(uow: UnitOfWorkFactory, store: SqlQualityStore) -> None:
    """Order SO-9 (4 brackets) released; printing used two PLA lots; one part serialised
    and measured out of spec."""
    factory = init_factory(uow, DEMO_FACTORY, FixedClock(T0))
    with uow() as tx:
        req = OrderRequest(
            customer="acme",
            lines=(OrderLine("bracket", 4, {"colour": "black", "length_mm": 90.0}),),
            due=T0 + timedelta(days=3),
            order_id="SO-9",
        )
        place_order(tx, req, T0)
        (wo,) = release_order(tx, "SO-9", T0)
        op = wo.operations[0].transition(WorkStatus.RELEASED).transition(WorkStatus.RUNNING)
        tx.work_orders.update_operation(replace(op, machine="fdm-01", actual_start=T0))
        tx.stock.record(
            [
                Movement(MovementKind.ISSUE, "pla-black", "PLA-B-2611", 0.12, T0, wo.id, op.id),
                Movement(MovementKind.ISSUE, "pla-black", "PLA-B-2614", 0.06, T0, wo.id, op.id),
            ]
        )
        tx.trace.add_serial(SerialNumber("SN-9-1", wo.id, wo.lot, T0 + timedelta(hours=3)))
        tx.commit()
    record_measurement(
        store,
        factory,
        Measurement(
            event_id="m-1",
            machine="cmm-01",
            seq=1,
            ts=T0 + timedelta(hours=4),
            characteristic="hole_pitch",
            value=40.35,
            part_id="SN-9-1",
            lot_id=wo.lot,
        ),
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def shop(
    request: pytest.FixtureRequest, migrated_engines: dict[str, Engine]
) -> tuple[SqlUnitOfWorkFactory, SqlQualityStore]:
    """The shop, built once per database for the read-only trace tests."""
    engine = migrated_engines.get(request.param)
    if engine is None:
        message = "PostgreSQL is not reachable"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message} (CI=true: services are required)")
        pytest.skip(message)
    uow, store = SqlUnitOfWorkFactory(engine), SqlQualityStore(engine)
    build_shop(uow, store)
    return uow, store


def test_backward_trace_of_a_part(shop: tuple[SqlUnitOfWorkFactory, SqlQualityStore]) -> None:
    uow, store = shop
    with uow() as tx:
        result = trace(tx, store, "SN-9-1")
    assert result["direction"] == "backward" and result["kind"] == "part"
    (wo,) = result["work_orders"]
    assert wo["order"]["id"] == "SO-9" and wo["order"]["customer"] == "acme"
    assert wo["machines"] == ["fdm-01"]
    assert {m["material_lot"] for m in wo["material_lots"]} == {"PLA-B-2611", "PLA-B-2614"}
    assert [m["value"] for m in result["measurements"]] == [40.35]
    assert len(result["ncrs"]) == 1 and len(result["holds"]) == 1


def test_forward_trace_of_a_material_lot(
    shop: tuple[SqlUnitOfWorkFactory, SqlQualityStore],
) -> None:
    uow, store = shop
    with uow() as tx:
        result = trace(tx, store, "PLA-B-2611")
    assert result["direction"] == "forward"
    (wo,) = result["work_orders"]
    assert wo["order"] == "SO-9" and wo["serials"] == ["SN-9-1"] and wo["held"] is True
    assert wo["material_quantity"] == pytest.approx(0.12)
    # the print is still running: no good parts counted from the lot yet
    assert result["customers"] == [{"customer": "acme", "order": "SO-9", "quantity": 0}]


def test_unknown_key_is_not_found(shop: tuple[SqlUnitOfWorkFactory, SqlQualityStore]) -> None:
    uow, store = shop
    with uow() as tx, pytest.raises(NotFound):
        trace(tx, store, "NOPE-1")


def test_trace_command_prints_json(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    container = bootstrap(db_url=db_url)
    try:
        build_shop(container.uow, SqlQualityStore(container.engine))
    finally:
        container.close()
    monkeypatch.setattr(
        sys, "argv", ["microfactory", "trace", "PLA-B-2614", "--db", db_url, "--json"]
    )
    main()
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "material_lot"
    assert [c["customer"] for c in out["customers"]] == ["acme"]
    assert out["work_orders"][0]["serials"] == ["SN-9-1"]
