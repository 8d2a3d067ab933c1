"""Pricing: the cost build-up by hand, quantity breaks, minimum order, bad policies."""

from __future__ import annotations

import pytest

from microfactory.quoting.pricing import FinishingStep, PricingPolicy, price_line
from microfactory.quoting.processes import Process

POLICY = PricingPolicy(
    currency="EUR",
    margin=0.5,
    setup_fee=10.0,
    labour_per_hour=60.0,
    material_waste=0.0,
    minimum_order=0.0,
    quantity_breaks=((10, 0.1),),
    finishing={Process.FDM: (FinishingStep("sand", 2.0), FinishingStep("remove", 1.0, 10.0, True))},
)


def _line(quantity: int, support_mm3: float = 0.0, policy: PricingPolicy = POLICY):  # type: ignore[no-untyped-def]
    return price_line(
        process=Process.FDM,
        quantity=quantity,
        machine_hours=2.0,
        machine_cost_per_hour=5.0,
        mass_g_per_part=100.0,
        material_cost_per_kg=20.0,
        support_mm3_per_part=support_mm3,
        policy=policy,
    )


def test_cost_build_up_by_hand() -> None:
    p = _line(2)
    # machine 2 h × 5 = 10; material 2 × 0.1 kg × 20 = 4; setup 10; sanding 2 × 2 min at 60/h = 4
    assert (p.machine_cost, p.material_cost, p.setup_cost, p.finishing_cost) == (10, 4, 10, 4)
    assert p.cost == 28.0
    assert p.total == 42.0  # +50 % margin, no discount under 10 parts
    assert p.unit_price == 21.0
    assert p.finishing_steps == ("sand",)


def test_support_removal_is_charged_only_with_support() -> None:
    p = _line(1, support_mm3=3000.0)
    # sanding 2 min + removal (1 + 10 × 3 cm³) min = 33 min at 60/h
    assert p.finishing_cost == pytest.approx(33.0)
    assert p.finishing_steps == ("sand", "remove")


def test_quantity_break_discounts_the_line() -> None:
    p = _line(10)
    cost = 10 + 10 * 0.1 * 20 + 10 + 10 * 2
    assert p.discount == pytest.approx(cost * 1.5 * 0.1)
    assert p.total == pytest.approx(cost * 1.5 * 0.9)


def test_minimum_order_applies() -> None:
    policy = PricingPolicy(minimum_order=500.0)
    assert _line(1, policy=policy).total == 500.0


def test_waste_raises_material_cost() -> None:
    policy = PricingPolicy(material_waste=0.2, finishing={})
    assert _line(1, policy=policy).material_cost == pytest.approx(2.0 / 0.8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"currency": "euro"},  # not ISO 4217
        {"margin": -0.1},  # selling under cost by policy
        {"material_waste": 1.0},  # all material wasted
        {"quantity_breaks": ((0, 0.1),)},  # break at zero parts
        {"quantity_breaks": ((10, 1.0),)},  # free
    ],
)
def test_bad_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PricingPolicy(**kwargs)  # type: ignore[arg-type]


def test_zero_quantity_is_refused() -> None:
    with pytest.raises(ValueError):
        _line(0)
