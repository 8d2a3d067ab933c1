"""Price of an order line from machine time, material, setup, finishing, margin and
quantity breaks. All money is in the policy's currency, rounded to cents at the end."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from microfactory.quoting.processes import Process


@dataclass(frozen=True)
class FinishingStep:
    """A manual step after printing: a fixed time per part plus time per cm³ of support
    material removed (0 for steps that do not touch support)."""

    name: str
    minutes_per_part: float
    minutes_per_cm3_support: float = 0.0
    only_with_support: bool = False

    def __post_init__(self) -> None:
        if self.minutes_per_part < 0 or self.minutes_per_cm3_support < 0:
            raise ValueError(f"finishing step {self.name}: times must not be negative")

    def minutes(self, support_mm3: float) -> float:
        if self.only_with_support and support_mm3 <= 0:
            return 0.0
        return self.minutes_per_part + self.minutes_per_cm3_support * support_mm3 / 1000.0


DEFAULT_FINISHING: dict[Process, tuple[FinishingStep, ...]] = {
    Process.FDM: (
        FinishingStep("remove supports", 2.0, 3.0, only_with_support=True),
        FinishingStep("deburr and inspect", 1.0),
    ),
    Process.RESIN: (
        FinishingStep("wash", 0.5),
        FinishingStep("UV cure", 0.5),
        FinishingStep("remove supports", 1.5, 3.0, only_with_support=True),
        FinishingStep("inspect", 1.0),
    ),
}


@dataclass(frozen=True)
class PricingPolicy:
    """`quantity_breaks`: (minimum quantity, discount fraction), applied to the line."""

    currency: str = "EUR"
    margin: float = 0.35
    setup_fee: float = 15.0
    labour_per_hour: float = 35.0
    material_waste: float = 0.05
    minimum_order: float = 10.0
    quantity_breaks: tuple[tuple[int, float], ...] = ((10, 0.05), (50, 0.10), (200, 0.15))
    finishing: dict[Process, tuple[FinishingStep, ...]] = field(
        default_factory=lambda: dict(DEFAULT_FINISHING)
    )

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"currency {self.currency!r} must be a 3-letter ISO 4217 code")
        if self.margin < 0 or self.setup_fee < 0 or self.labour_per_hour < 0:
            raise ValueError("margin, setup fee and labour rate must not be negative")
        if not 0 <= self.material_waste < 1 or self.minimum_order < 0:
            raise ValueError("material_waste must be in [0, 1) and minimum_order >= 0")
        for qty, discount in self.quantity_breaks:
            if qty < 1 or not 0 <= discount < 1:
                raise ValueError("quantity breaks need quantity >= 1 and discount in [0, 1)")

    def discount(self, quantity: int) -> float:
        best = 0.0
        for qty, disc in self.quantity_breaks:
            if quantity >= qty:
                best = max(best, disc)
        return best


@dataclass(frozen=True)
class PriceBreakdown:
    machine_cost: float
    material_cost: float
    setup_cost: float
    finishing_cost: float
    finishing_steps: tuple[str, ...]
    cost: float
    margin: float
    discount: float
    total: float
    unit_price: float
    currency: str


def price_line(
    *,
    process: Process,
    quantity: int,
    machine_hours: float,
    machine_cost_per_hour: float,
    mass_g_per_part: float,
    material_cost_per_kg: float,
    support_mm3_per_part: float,
    policy: PricingPolicy,
) -> PriceBreakdown:
    """Cost build-up → margin → quantity discount → minimum order; total is for the line."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    machine = machine_hours * machine_cost_per_hour
    material = quantity * mass_g_per_part / 1000.0 * material_cost_per_kg
    material /= 1.0 - policy.material_waste
    steps = policy.finishing.get(process, ())
    minutes = quantity * sum(step.minutes(support_mm3_per_part) for step in steps)
    finishing = minutes / 60.0 * policy.labour_per_hour
    used = tuple(s.name for s in steps if s.minutes(support_mm3_per_part) > 0)
    cost = machine + material + policy.setup_fee + finishing
    margin = cost * policy.margin
    discount_rate = policy.discount(quantity)
    discount = (cost + margin) * discount_rate
    total = max(cost + margin - discount, policy.minimum_order)
    total = math.ceil(total * 100.0 - 1e-9) / 100.0
    return PriceBreakdown(
        machine_cost=round(machine, 2),
        material_cost=round(material, 2),
        setup_cost=round(policy.setup_fee, 2),
        finishing_cost=round(finishing, 2),
        finishing_steps=used,
        cost=round(cost, 2),
        margin=round(margin, 2),
        discount=round(discount, 2),
        total=total,
        unit_price=round(total / quantity, 2),
        currency=policy.currency,
    )
