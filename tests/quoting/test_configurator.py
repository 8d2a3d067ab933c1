"""Product configurator: typed parameters, rules between them, routing and price."""

from __future__ import annotations

import math

import pytest

from microfactory.core.errors import ValidationError
from microfactory.orders.products import ParameterSpec
from microfactory.quoting.configurator import (
    Condition,
    ConfigurableProduct,
    Extra,
    Rule,
    build_mesh,
    configure,
    quote_configuration,
)
from microfactory.quoting.pricing import FinishingStep
from microfactory.quoting.processes import PrintMachine, PrintMaterial

Shop = tuple[list[PrintMachine], list[PrintMaterial]]

SPACER = ConfigurableProduct(
    id="spacer",
    name="Round spacer",
    shape="tube",
    dimensions={"diameter": "diameter_mm", "wall": "wall_mm", "height": "length_mm"},
    parameters=(
        ParameterSpec("diameter_mm", "float", default=20, min=5, max=150, unit="mm"),
        ParameterSpec("wall_mm", "float", default=3, min=0.8, max=20, unit="mm"),
        ParameterSpec("length_mm", "float", default=30, min=2, max=180, unit="mm"),
        ParameterSpec("material", "choice", default="pla", choices=("pla", "resin-grey")),
        ParameterSpec("finish", "choice", default="raw", choices=("raw", "painted")),
        ParameterSpec("colour", "choice", default="black", choices=("black", "gold")),
    ),
    rules=(
        Rule(
            "resin-size",
            when=(Condition("material", values=("resin-grey",)),),
            then=(Condition("length_mm", maximum=140),),
            message="resin parts are at most 140 mm long",
        ),
        Rule(
            "paint-needs-wall",
            when=(Condition("finish", values=("painted",)),),
            then=(Condition("wall_mm", minimum=1.6), Condition("material", values=("pla",))),
            message="painted parts need PLA and walls of at least 1.6 mm",
        ),
    ),
    extras=(
        Extra("finish", "painted", step=FinishingStep("paint", 6.0)),
        Extra("colour", "gold", surcharge_per_part=1.5),
    ),
)


def test_defaults_fill_in_and_types_are_coerced() -> None:
    values = configure(SPACER, {"diameter_mm": 30})
    assert values["diameter_mm"] == 30.0 and values["material"] == "pla"


def test_every_broken_rule_is_reported_with_its_field() -> None:
    with pytest.raises(ValidationError) as info:
        configure(SPACER, {"finish": "painted", "wall_mm": 1.0, "material": "resin-grey"})
    text = str(info.value)
    assert "parameters.wall_mm" in text and "parameters.material" in text
    assert "paint-needs-wall" in text


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"diameter_mm": 500}, "above its maximum"),  # out of range
        ({"colour": "pink"}, "is not one of"),  # not a choice
        ({"wall_mm": "thick"}, "must be a number"),  # wrong type
        ({"weight": 3}, "unknown parameter"),  # not a parameter of the product
        ({"material": "resin-grey", "length_mm": 160}, "at most 140 mm"),  # rule
    ],
)
def test_bad_configuration_is_refused(values: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        configure(SPACER, values)


def test_mesh_volume_follows_the_dimensions() -> None:
    mesh = build_mesh(SPACER, configure(SPACER, {"diameter_mm": 40, "wall_mm": 5, "length_mm": 10}))
    n = 96
    ring = n / 2 * math.sin(2 * math.pi / n) * (20**2 - 15**2)
    assert mesh.volume == pytest.approx(ring * 10, rel=1e-6)
    assert mesh.bounds[0][2] == pytest.approx(0.0)


def test_painted_finish_adds_a_paint_step_and_its_labour(shop: Shop) -> None:
    machines, materials = shop
    raw = quote_configuration(SPACER, {}, quantity=2, machines=machines, materials=materials)
    painted = quote_configuration(
        SPACER, {"finish": "painted"}, quantity=2, machines=machines, materials=materials
    )
    assert "paint" in painted.routing and "paint" not in raw.routing
    assert raw.routing[0].startswith("print (fdm")
    # 2 parts × 6 min at the default 35/h, plus margin
    extra = painted.quote.price.finishing_cost - raw.quote.price.finishing_cost
    assert extra == pytest.approx(2 * 6 / 60 * 35, abs=0.02)
    assert painted.total > raw.total


def test_premium_colour_adds_its_surcharge(shop: Shop) -> None:
    machines, materials = shop
    black = quote_configuration(SPACER, {}, quantity=4, machines=machines, materials=materials)
    gold = quote_configuration(
        SPACER, {"colour": "gold"}, quantity=4, machines=machines, materials=materials
    )
    assert gold.total == pytest.approx(black.total + 4 * 1.5)


def test_resin_material_routes_to_the_resin_printer(shop: Shop) -> None:
    machines, materials = shop
    q = quote_configuration(
        SPACER, {"material": "resin-grey"}, quantity=1, machines=machines, materials=materials
    )
    assert q.quote.machine_id == "resin-1"
    assert "wash" in q.routing


def test_product_with_unknown_dimension_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ConfigurableProduct(
            id="x",
            name="x",
            shape="box",
            dimensions={"length": "nope", "width": "10", "height": "10"},
            parameters=(ParameterSpec("material", "choice", default="pla", choices=("pla",)),),
        )
