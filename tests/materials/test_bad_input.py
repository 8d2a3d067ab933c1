"""Bad input to receipts, adjustments and purchase orders: a clear error naming the field,
and nothing stored — even by a caller that commits after the error."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Factory
from microfactory.services.materials import Receipt, adjust, receive
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory
from microfactory.services.purchasing import (
    PurchaseRequest,
    place_purchase_order,
    receive_purchase_order,
)

from .conftest import T0

Loaded = tuple[UnitOfWorkFactory, Factory]


def snapshot(uow: UnitOfWorkFactory) -> tuple[Any, ...]:
    with uow() as tx:
        return (
            tx.stock.lots(with_empty=True),
            tx.stock.movements(),
            tx.purchases.find(),
            tx.stock.alerts(),
            tx.replans.pending(),
        )


def refused(uow: UnitOfWorkFactory, work: Callable[[UnitOfWork], object], where: str) -> str:
    before = snapshot(uow)
    with uow() as tx:
        with pytest.raises(ValidationError) as caught:
            work(tx)
        tx.commit()
    assert caught.value.where == where, caught.value
    assert snapshot(uow) == before
    return str(caught.value)


@pytest.mark.parametrize(
    ("receipt", "where"),
    [
        (Receipt("unobtainium", "L-1", 1.0), "material"),  # not a material of the factory
        (Receipt("petg", "L-1", -2.0), "quantity"),  # a negative receipt
        (Receipt("petg", "L-1", 0.0), "quantity"),  # an empty receipt
        (Receipt("petg", "L-1", math.nan), "quantity"),  # not a number
        (Receipt("petg", "L-1", math.inf), "quantity"),  # not finite
        (Receipt("petg", "L-1", 1.0, unit="l"), "unit"),  # a volume of a material kept by mass
        (Receipt("petg", "L-1", 1.0, unit="lb"), "unit"),  # a unit microfactory does not know
        (Receipt("petg", "L-1", 1.0, cost=-3.0), "cost"),  # a negative price
        (Receipt("petg", "L-1", 1.0, cost=math.nan), "cost"),  # a price that is not a number
        (Receipt("petg", "L 1", 1.0), "lot"),  # a lot id with a space
        (Receipt("petg", "L-1", 1.0, expires=T0 - timedelta(days=1)), "expires"),  # expired
        (Receipt("petg", "L-1", 1.0, expires=T0), "expires"),  # expires the moment it arrives
        (Receipt("petg", "L-1", 1.0, received=T0 + timedelta(days=1)), "received"),  # future
        (Receipt("petg", "L-1", 1.0, location="x" * 65), "location"),  # location too long
    ],
)
def test_bad_receipts_are_refused(loaded: Loaded, receipt: Receipt, where: str) -> None:
    uow, factory = loaded
    refused(uow, lambda tx: receive(tx, factory, receipt, at=T0), where)


def test_an_expired_receipt_says_so(loaded: Loaded) -> None:
    uow, factory = loaded
    receipt = Receipt("petg", "L-1", 1.0, expires=T0 - timedelta(days=1))
    message = refused(uow, lambda tx: receive(tx, factory, receipt, at=T0), "expires")
    assert "expired" in message


def test_a_receipt_of_a_known_lot_is_a_conflict(loaded: Loaded) -> None:
    uow, factory = loaded
    before = snapshot(uow)
    with uow() as tx, pytest.raises(Conflict):
        receive(tx, factory, Receipt("petg", "PETG-2610", 1.0), at=T0)
    assert snapshot(uow) == before


@pytest.mark.parametrize(
    ("lot", "kwargs", "where"),
    [
        ("NOPE", {"delta": -1.0, "reason": "count"}, "lot"),  # no such lot
        ("PETG-2610", {"delta": -1.0, "reason": "  "}, "reason"),  # no reason given
        ("PETG-2610", {"reason": "count"}, "delta"),  # neither a change nor a count
        ("PETG-2610", {"delta": -1.0, "count": 3.0, "reason": "count"}, "delta"),  # both
        ("PETG-2610", {"delta": math.nan, "reason": "count"}, "delta"),  # not a number
        ("PETG-2610", {"delta": -math.inf, "reason": "count"}, "delta"),  # not finite
        ("PETG-2610", {"delta": 0.0, "reason": "count"}, "delta"),  # changes nothing
        ("PETG-2610", {"delta": -15.5, "reason": "count"}, "delta"),  # below zero (15 held)
        ("PETG-2610", {"count": -1.0, "reason": "count"}, "count"),  # a negative count
        ("PETG-2610", {"count": 15.0, "reason": "count"}, "count"),  # what it holds already
    ],
)
def test_bad_adjustments_are_refused(
    loaded: Loaded, lot: str, kwargs: dict[str, Any], where: str
) -> None:
    uow, factory = loaded
    refused(uow, lambda tx: adjust(tx, factory, lot, at=T0, **kwargs), where)


@pytest.mark.parametrize(
    ("request_", "where"),
    [
        (PurchaseRequest("unobtainium", 5.0), "material"),  # not a material of the factory
        (PurchaseRequest("petg", 0.0), "quantity"),  # ordering nothing
        (PurchaseRequest("petg", -5.0), "quantity"),  # a negative order
        (PurchaseRequest("petg", math.nan), "quantity"),  # not a number
        (PurchaseRequest("petg", 5.0, "Acme Plastics"), "supplier"),  # not a petg supplier
        (PurchaseRequest("petg", 5.0, due=T0 - timedelta(days=1)), "due"),  # due in the past
    ],
)
def test_bad_purchase_orders_are_refused(
    loaded: Loaded, request_: PurchaseRequest, where: str
) -> None:
    uow, factory = loaded
    refused(uow, lambda tx: place_purchase_order(tx, factory, request_, T0), where)


def test_a_purchase_order_is_received_once(loaded: Loaded) -> None:
    uow, factory = loaded
    with uow() as tx:
        po = place_purchase_order(tx, factory, PurchaseRequest("petg", 40.0), T0)
        tx.commit()
    assert po.id == "PO-00001" and po.supplier == "Prusament"
    assert po.due == T0 + timedelta(days=4)
    with uow() as tx:
        done, lot = receive_purchase_order(tx, factory, po.id, T0 + timedelta(days=4))
        tx.commit()
    assert done.status == "received" and done.lot == lot.id == "PO-00001-L1"
    assert lot.expires == T0 + timedelta(days=4 + 365)  # the material's shelf life
    assert lot.location == "print-rack-2"  # where PETG is kept
    before = snapshot(uow)
    with uow() as tx, pytest.raises(Conflict):
        receive_purchase_order(tx, factory, po.id, T0 + timedelta(days=5))
    with uow() as tx, pytest.raises(NotFound):
        receive_purchase_order(tx, factory, "PO-99999", T0)
    assert snapshot(uow) == before
