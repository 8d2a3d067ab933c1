"""The factory file's materials: units, suppliers with lead time and MOQ, safety stock,
shelf life and opening lots with location, expiry and cost; a broken entry names its field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.cli.demo import DEMO_START
from microfactory.core import ValidationError
from microfactory.orders.factory_file import factory_from_dict
from microfactory.orders.materials import SupplierTerms


def demo() -> dict[str, Any]:
    data = yaml.safe_load(DEMO_FACTORY.read_text())
    assert isinstance(data, dict)
    return data


def material(data: dict[str, Any], material_id: str) -> dict[str, Any]:
    return next(m for m in data["materials"] if m["id"] == material_id)


def product(data: dict[str, Any], product_id: str) -> dict[str, Any]:
    return next(p for p in data["products"] if p["id"] == product_id)


def test_materials_read_with_their_purchasing_data() -> None:
    f = factory_from_dict(demo(), at=DEMO_START)  # lot times count from the demo's start
    resin = f.material_map["resin-grey"]
    assert resin.unit == "l" and resin.safety_stock == 3 and resin.shelf_life_days == 180
    assert resin.suppliers == (SupplierTerms("Elegoo", 6, 5, 49.0),)
    lot = resin.lots[0]
    assert (lot.id, lot.quantity, lot.location) == ("RES-G-2607", 5, "resin-cabinet")
    assert lot.expires == datetime(2026, 1, 24, tzinfo=UTC) and lot.cost == 49.0
    assert f.material_map["fasteners"].unit == "piece"


def test_quantity_kg_is_still_read_for_a_material_kept_by_mass() -> None:
    data = demo()
    lot = material(data, "petg")["lots"][0]
    lot["quantity_kg"] = lot.pop("quantity")
    assert factory_from_dict(data).material_map["petg"].lots[0].quantity == 15


Mutation = Callable[[dict[str, Any]], None]


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Mutation:
    return lambda d: path(d).update(values)


@pytest.mark.parametrize(
    ("mutate", "where", "reason"),
    [
        # a stock unit microfactory does not know
        (_set(lambda d: material(d, "petg"), unit="spools"), "materials[2]", "unit"),
        # a lead time that is not a number
        (
            _set(lambda d: material(d, "petg")["suppliers"][0], lead_time_days="soon"),
            "materials[2].suppliers[0].lead_time_days",
            "expected a number",
        ),
        # a negative minimum order quantity
        (
            _set(lambda d: material(d, "petg")["suppliers"][0], moq=-5),
            "materials[2].suppliers[0]",
            "moq",
        ),
        # a supplier without a name
        (
            _set(lambda d: material(d, "petg")["suppliers"][0], name=" "),
            "materials[2].suppliers[0]",
            "name",
        ),
        # a negative safety stock
        (_set(lambda d: material(d, "petg"), safety_stock=-1), "materials[2]", "safety_stock"),
        # a negative opening lot
        (
            _set(lambda d: material(d, "petg")["lots"][0], quantity=-3),
            "materials[2].lots[0]",
            "negative",
        ),
        # a lot that expires before it arrived
        (
            _set(lambda d: material(d, "petg")["lots"][0], expires="2020-01-01T00:00:00Z"),
            "materials[2].lots[0]",
            "expires before it was received",
        ),
        # kilograms of a material kept in litres
        (
            _set(lambda d: material(d, "resin-grey")["lots"][0], quantity_kg=5),
            "materials[3].lots[0]",
            "quantity",
        ),
        # a BOM line in kilograms for resin kept in litres
        (
            _set(lambda d: product(d, "dental-model")["bom"][0], quantity=0.06, unit="kg"),
            "products[2].bom[0].unit",
            "unit mismatch",
        ),
        # a BOM template whose choice names no material
        (
            _set(lambda d: product(d, "bracket")["bom"][0], component="abs-{colour}"),
            "products[0].bom[0].component",
            "unknown material or product 'abs-black'",
        ),
    ],
)
def test_a_broken_material_names_its_field(mutate: Mutation, where: str, reason: str) -> None:
    data = demo()
    mutate(data)
    with pytest.raises(ValidationError) as info:
        factory_from_dict(data)
    assert info.value.where is not None and info.value.where.startswith(where), info.value
    assert reason in info.value.reason
