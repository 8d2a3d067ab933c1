"""One contract for the stock ports (lots and their ledger, purchase orders), run against the
in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from microfactory.core.errors import Conflict, NotFound
from microfactory.orders import Factory, MaterialLot, OrderLine
from microfactory.orders.stock import (
    MaterialEstimate,
    Movement,
    MovementKind,
    PurchaseOrder,
    PurchaseStatus,
    StockAlert,
)
from microfactory.services.ports import UnitOfWorkFactory

from .conftest import T0, release

Loaded = tuple[UnitOfWorkFactory, Factory]


def test_opening_lots_are_received_once(loaded: Loaded) -> None:
    uow, factory = loaded
    from microfactory.services.materials import receive_opening_lots

    with uow() as tx:
        assert receive_opening_lots(tx, factory, T0) == 0  # loaded again: nothing new
        receipts = tx.stock.movements(kinds=[MovementKind.RECEIPT])
        lots = tx.stock.lots()
    assert len(receipts) == len(lots) == sum(len(m.lots) for m in factory.materials)
    petg = [lot.id for lot in lots if lot.material == "petg"]
    assert petg == ["PETG-2610", "PETG-2612"]  # first expiry first


def test_a_new_lot_starts_empty_and_its_movements_fill_it(loaded: Loaded) -> None:
    uow, _ = loaded
    lot = MaterialLot("NEW-1", "petg", 7.0, T0, "Prusament", "rack", T0 + timedelta(days=90), 25)
    with uow() as tx:
        tx.stock.add_lot(lot)
        assert tx.stock.lot("NEW-1") == replace(lot, quantity=0.0)
        assert "NEW-1" not in {x.id for x in tx.stock.lots()}
        assert "NEW-1" in {x.id for x in tx.stock.lots(with_empty=True)}
        tx.stock.record(
            [
                Movement(MovementKind.RECEIPT, "petg", "NEW-1", 7.0, T0),
                Movement(MovementKind.ISSUE, "petg", "NEW-1", 2.0, T0, "WO-1", "OP-1"),
                Movement(MovementKind.ADJUSTMENT, "petg", "NEW-1", -0.5, T0, reason="weighed"),
                Movement(MovementKind.DISCREPANCY, "petg", None, 1.0, T0, "WO-1", "OP-1"),
            ]
        )
        tx.commit()
    with uow() as tx:
        got = tx.stock.lot("NEW-1")
        assert got is not None and got.quantity == pytest.approx(4.5)
        moves = tx.stock.movements(lot="NEW-1")
        assert [m.kind for m in moves] == ["receipt", "issue", "adjustment"]
        assert all(m.id is not None for m in moves)
        assert [m.kind for m in tx.stock.movements(work_orders=["WO-1"])] == [
            "issue",
            "discrepancy",
        ]
        assert len(tx.stock.movements(limit=2)) == 2
        (b,) = [b for b in tx.stock.balances() if b.lot == "NEW-1"]
        assert (b.receipts, b.issues, b.adjusted_out, b.on_hand) == (7.0, 2.0, 0.5, 4.5)


def test_a_lot_id_is_unique(loaded: Loaded) -> None:
    uow, _ = loaded
    with uow() as tx, pytest.raises(Conflict):
        tx.stock.add_lot(MaterialLot("PETG-2610", "petg", 1.0))


def test_uncommitted_movements_leave_nothing(loaded: Loaded) -> None:
    uow, _ = loaded
    with uow() as tx:
        tx.stock.record([Movement(MovementKind.ISSUE, "petg", "PETG-2610", 5.0, T0)])
    with uow() as tx:
        lot = tx.stock.lot("PETG-2610")
        assert lot is not None and lot.quantity == 15.0
        assert tx.stock.movements(kinds=[MovementKind.ISSUE]) == []


def test_lots_by_material_and_by_id(loaded: Loaded) -> None:
    uow, _ = loaded
    with uow() as tx:
        found = tx.stock.lots(materials=["pla-white"], ids=["AL-6061-117"])
    assert [x.id for x in found] == ["AL-6061-117", "PLA-W-2612"]


def test_operations_carry_the_product_step_and_the_estimate(loaded: Loaded) -> None:
    uow, _ = loaded
    release(uow, "SO-1", (OrderLine("bracket", 4, {"colour": "white"}),))
    with uow() as tx:
        tx.stock.set_estimate("SO-1-1", MaterialEstimate("SO-1-1-1", "petg", 30.0, "g", "quote"))
        tx.stock.set_estimate("SO-1-1", MaterialEstimate("SO-1-1-1", "petg", 38.0, "g", "slicer"))
        tx.commit()
    with uow() as tx:
        ops = tx.stock.operations(["SO-1-1-1", "SO-1-1-2", "NOPE"])
    assert set(ops) == {"SO-1-1-1", "SO-1-1-2"}
    first = ops["SO-1-1-1"]
    assert (first.work_order, first.seq, first.product, first.quantity) == (
        "SO-1-1",
        1,
        "bracket",
        4,
    )
    assert first.parameters["colour"] == "white"
    assert first.estimate == MaterialEstimate("SO-1-1-1", "petg", 38.0, "g", "slicer")
    assert ops["SO-1-1-2"].estimate is None
    with uow() as tx:
        assert tx.stock.estimates(["SO-1-1-1", "SO-1-1-2"]) == {"SO-1-1-1": first.estimate}


def test_consumers_name_the_order_and_the_customer(loaded: Loaded) -> None:
    uow, _ = loaded
    release(uow, "SO-1", (OrderLine("bracket", 4, {"colour": "white"}),), customer="volt")
    with uow() as tx:
        tx.stock.record(
            [
                Movement(
                    MovementKind.ISSUE, "pla-white", "PLA-W-2612", 0.1, T0, "SO-1-1", "SO-1-1-1"
                ),
                Movement(
                    MovementKind.ISSUE, "pla-white", "PLA-W-2612", 0.08, T0, "SO-1-1", "SO-1-1-1"
                ),
            ]
        )
        tx.commit()
    with uow() as tx:
        (c,) = tx.stock.consumers("PLA-W-2612")
        assert tx.stock.consumers("PETG-2610") == []
    assert (c.work_order, c.order, c.customer, c.product) == ("SO-1-1", "SO-1", "volt", "bracket")
    assert c.part_lot == "LOT-SO-1-1" and c.quantity == pytest.approx(0.18) and c.parts == 0


def test_alerts_are_kept_once_newest_first(loaded: Loaded) -> None:
    uow, _ = loaded
    a = StockAlert("low-stock:petg:1", "low_stock", "petg", None, T0, "low")
    b = StockAlert("expiry:L", "expiry", "resin-grey", "L", T0 + timedelta(hours=1), "soon")
    with uow() as tx:
        tx.stock.add_alerts([a, b])
        tx.stock.add_alerts([a])
        tx.commit()
    with uow() as tx:
        assert tx.stock.alerts() == [b, a]
        assert tx.stock.alerts(kinds=["low_stock"]) == [a]


def test_purchase_orders_round_trip(loaded: Loaded) -> None:
    uow, _ = loaded
    po = PurchaseOrder("PO-00001", "petg", "Prusament", 40.0, T0, T0 + timedelta(days=4), price=25)
    with uow() as tx:
        tx.purchases.add(po)
        tx.purchases.add(replace(po, id="PO-00002", due=T0 + timedelta(days=2)))
        with pytest.raises(Conflict):
            tx.purchases.add(po)
        tx.commit()
    done = replace(
        po, status=PurchaseStatus.RECEIVED, received=T0, received_quantity=39.5, lot="PO-00001-L1"
    )
    with uow() as tx:
        tx.purchases.save(done)
        tx.commit()
    with uow() as tx:
        assert tx.purchases.get("PO-00001") == done
        assert [p.id for p in tx.purchases.find()] == ["PO-00002", "PO-00001"]
        assert [p.id for p in tx.purchases.find(status=PurchaseStatus.OPEN)] == ["PO-00002"]
        assert tx.purchases.find(material="pla-black") == []
        assert tx.purchases.count() == 2
        with pytest.raises(NotFound):
            tx.purchases.get("PO-9")
