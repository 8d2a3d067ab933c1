"""Genealogy both ways to the customer, from what the reactor issued: a material lot forward
to its work orders, orders and customers with the parts made; an order, a work order or a
part lot backward to the material lots with quantities."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.core.errors import NotFound
from microfactory.orders import OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.genealogy import trace
from microfactory.store.quality_store import SqlQualityStore

from .conftest import FILE_TIME, release
from .test_consumption import Shop


@pytest.fixture
def traced(migrated_db_url: str) -> Iterator[Shop]:
    container = bootstrap(db_url=migrated_db_url)
    factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(FILE_TIME))
    release(container.uow, "SO-1", (OrderLine("bracket", 10, {"colour": "black"}),))
    release(
        container.uow,
        "SO-2",
        (OrderLine("bracket", 200, {"colour": "black"}), OrderLine("sensor-kit", 2)),
        customer="volt",
    )
    shop = Shop(container, factory, container.reactor(factory))
    shop.finish("SO-1-1-1", good=9, scrap=1)  # 0.45 kg from PLA-B-2611
    shop.finish("SO-2-1-1", good=200)  # 9 kg: the rest of PLA-B-2611, then PLA-B-2614
    shop.finish("SO-2-2-1", good=2)  # white PLA for the kit's body
    try:
        yield shop
    finally:
        container.close()


def run_trace(shop: Shop, key: str) -> dict[str, object]:
    store = SqlQualityStore(shop.container.engine)
    with shop.container.uow() as tx:
        return trace(tx, store, key)


def test_forward_from_a_material_lot_names_every_customer(traced: Shop) -> None:
    out = run_trace(traced, "PLA-B-2611")
    assert out["direction"] == "forward" and out["kind"] == "material_lot"
    assert out["customers"] == [
        {"customer": "acme", "order": "SO-1", "quantity": 9},
        {"customer": "volt", "order": "SO-2", "quantity": 200},
    ]
    assert out["consumed"] == pytest.approx(8.0)  # the whole lot
    second = run_trace(traced, "PLA-B-2614")
    assert second["customers"] == [{"customer": "volt", "order": "SO-2", "quantity": 200}]


def test_backward_from_an_order_lists_its_material_lots(traced: Shop) -> None:
    out = run_trace(traced, "SO-2")
    assert out["direction"] == "backward" and out["kind"] == "order"
    assert out["customers"] == ["volt"]
    assert out["materials"] == [
        {
            "material": "pla-black",
            "lot": "PLA-B-2611",
            "quantity": pytest.approx(7.55),
            "unit": "kg",
        },
        {
            "material": "pla-black",
            "lot": "PLA-B-2614",
            "quantity": pytest.approx(1.45),
            "unit": "kg",
        },
        {
            "material": "pla-white",
            "lot": "PLA-W-2612",
            "quantity": pytest.approx(0.24),
            "unit": "kg",
        },
    ]


def test_backward_from_a_work_order_and_from_its_part_lot(traced: Shop) -> None:
    by_work_order = run_trace(traced, "SO-1-1")
    by_lot = run_trace(traced, "LOT-SO-1-1")
    assert by_work_order["kind"] == "work_order" and by_lot["kind"] == "lot"
    for out in (by_work_order, by_lot):
        assert out["materials"] == [
            {
                "material": "pla-black",
                "lot": "PLA-B-2611",
                "quantity": pytest.approx(0.45),
                "unit": "kg",
            }
        ]


def test_an_unknown_key_is_not_found(traced: Shop) -> None:
    with pytest.raises(NotFound):
        run_trace(traced, "NOPE-1")
