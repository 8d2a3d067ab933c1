"""The stock domain: units, lots, movements, first-expiry-first-out, what an operation
consumes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.orders import BomLine, Material, MaterialLot
from microfactory.orders.factory_file import load_factory
from microfactory.orders.materials import SupplierTerms, convert
from microfactory.orders.stock import (
    LotStock,
    MaterialEstimate,
    Movement,
    MovementKind,
    allocate,
    balances,
    operation_needs,
)

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_units_convert_within_a_dimension() -> None:
    assert convert(54, "ml", "l") == pytest.approx(0.054)
    assert convert(450, "g", "kg") == pytest.approx(0.45)
    assert convert(4, "pcs", "piece") == 4
    assert convert(1.5, "m", "mm") == pytest.approx(1500)


@pytest.mark.parametrize(
    ("unit", "to", "message"),
    [
        ("kg", "l", "unit mismatch"),  # a mass is not a volume (density is not guessed)
        ("piece", "kg", "unit mismatch"),  # a count is not a mass
        ("lb", "kg", "unknown"),  # not a unit microfactory knows
    ],
)
def test_units_of_another_dimension_are_refused(unit: str, to: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(1.0, unit, to)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": -1.0}, "must not be negative"),  # stock is never negative
        ({"quantity": math.nan}, "finite"),  # NaN is not a quantity
        ({"quantity": math.inf}, "finite"),  # nor is infinity
        ({"expires": T0 - timedelta(days=1)}, "expires before it was received"),  # expired
        ({"id": "a lot"}, "material lot id"),  # ids have no spaces
    ],
)
def test_a_lot_checks_itself(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"id": "L-1", "material": "petg", "quantity": 1.0, "received": T0}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        MaterialLot(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "lb"}, "unit"),  # stock units are kg, l, m, piece
        ({"safety_stock": -1.0}, "safety_stock"),  # a floor below zero means nothing
        ({"suppliers": (SupplierTerms("A", 1), SupplierTerms("A", 2))}, "unique"),  # twice
    ],
)
def test_a_material_checks_itself(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "id": "petg",
        "name": "PETG",
        "kind": "filament",
        "density_g_cm3": 1.27,
        "cost_per_kg": 26.0,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Material(**fields)  # type: ignore[arg-type]


def test_movements_change_stock_by_their_sign() -> None:
    def move(kind: MovementKind, q: float) -> Movement:
        return Movement(kind, "petg", "L-1", q, T0, reason="count" if kind == "adjustment" else "")

    assert move(MovementKind.RECEIPT, 5).delta == 5
    assert move(MovementKind.ISSUE, 2).delta == -2
    assert move(MovementKind.ADJUSTMENT, -0.5).delta == -0.5
    assert Movement(MovementKind.DISCREPANCY, "petg", None, 1.0, T0).delta == 0


@pytest.mark.parametrize(
    ("kind", "quantity", "reason", "message"),
    [
        (MovementKind.ISSUE, -1.0, "", "positive"),  # an issue takes, never gives
        (MovementKind.RECEIPT, 0.0, "", "positive"),  # an empty receipt is nothing
        (MovementKind.ADJUSTMENT, 0.0, "count", "change the quantity"),  # no-op adjustment
        (MovementKind.ADJUSTMENT, -1.0, " ", "reason"),  # an adjustment says why
    ],
)
def test_bad_movements_are_refused(
    kind: MovementKind, quantity: float, reason: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Movement(kind, "petg", "L-1", quantity, T0, reason=reason)


def lots() -> list[LotStock]:
    return [
        LotStock("LATE", "petg", 5.0, T0 - timedelta(days=9), None),
        LotStock("SOON", "petg", 1.0, T0 - timedelta(days=1), T0 + timedelta(days=3)),
        LotStock("GONE", "petg", 9.0, T0 - timedelta(days=90), T0 - timedelta(days=1)),
        LotStock("LATER", "petg", 2.0, T0 - timedelta(days=5), T0 + timedelta(days=30)),
    ]


def test_issues_go_first_expiry_first_out_and_skip_expired_lots() -> None:
    pool = lots()
    got = allocate(pool, 3.5, T0)
    assert got.taken == (("SOON", 1.0), ("LATER", 2.0), ("LATE", 0.5))
    assert got.shortfall == 0
    assert {lot.id: lot.quantity for lot in pool}["GONE"] == 9.0


def test_the_reported_lot_is_used_first_even_when_expired() -> None:
    got = allocate(lots(), 10.0, T0, preferred="GONE")
    assert got.taken[0] == ("GONE", 9.0)
    assert got.taken[1] == ("SOON", 1.0)


def test_what_no_lot_holds_is_a_shortfall_not_a_negative_lot() -> None:
    pool = lots()
    got = allocate(pool, 20.0, T0)
    assert got.shortfall == pytest.approx(20.0 - 8.0)
    assert all(lot.quantity >= 0 for lot in pool)


def test_operation_needs_follow_the_bom_the_options_and_the_units() -> None:
    f = load_factory(DEMO_FACTORY)
    products, materials = f.product_map, f.material_map
    bracket = products["bracket"]
    white = operation_needs(bracket, 1, {"colour": "white"}, materials)
    assert [(n.material, n.per_part) for n in white] == [("pla-white", pytest.approx(0.045))]
    assert operation_needs(bracket, 2, {"colour": "white"}, materials) == []
    resin = operation_needs(products["dental-model"], 1, {}, materials)
    assert [(n.material, n.per_part) for n in resin] == [("resin-grey", pytest.approx(0.054))]
    kit = operation_needs(products["sensor-kit"], 4, {"colour": "black"}, materials)
    assert [(n.material, n.per_part) for n in kit] == [("fasteners", 4.0)]


def test_an_estimate_replaces_the_bom_of_its_operation() -> None:
    f = load_factory(DEMO_FACTORY)
    estimate = MaterialEstimate("SO-1-1-1", "petg", 38.0, "g", "slicer")
    needs = operation_needs(f.product_map["bracket"], 1, {}, f.material_map, estimate)
    assert [(n.material, n.per_part) for n in needs] == [("petg", pytest.approx(0.038))]


def test_a_bom_template_must_name_a_choice_parameter() -> None:
    from microfactory.orders import Product, RoutingOperation

    op = RoutingOperation(1, "Print", "fdm_print", 5, 10)
    with pytest.raises(ValueError, match="not a choice parameter"):
        Product("p", "P", (op,), bom=(BomLine("pla-{size}", 0.1),))
    with pytest.raises(ValueError, match="unknown operation"):
        Product("p", "P", (op,), bom=(BomLine("petg", 0.1, operation=7),))


def test_balances_from_the_ledger() -> None:
    lot = MaterialLot("L-1", "petg", 3.5, T0)
    ledger = [
        Movement(MovementKind.RECEIPT, "petg", "L-1", 5.0, T0),
        Movement(MovementKind.ISSUE, "petg", "L-1", 1.0, T0),
        Movement(MovementKind.ADJUSTMENT, "petg", "L-1", -0.5, T0, reason="weighed"),
    ]
    (b,) = balances([lot], ledger)
    assert (b.receipts, b.issues, b.adjusted_out, b.on_hand) == (5.0, 1.0, 0.5, 3.5)
    assert b.error == 0
