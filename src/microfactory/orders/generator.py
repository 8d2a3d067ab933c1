"""A seeded stream of customer orders (Poisson arrivals, custom parameters), for the demo and
the digital twin. Same seed, same orders."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from microfactory.orders.factory import Factory
from microfactory.orders.orders import OrderLine
from microfactory.orders.products import ParameterSpec, ParamValue, Product


@dataclass(frozen=True)
class GeneratedOrder:
    order_id: str
    customer: str
    created: datetime
    due: datetime
    priority: int
    rush: bool
    lines: tuple[OrderLine, ...]


def random_parameters(product: Product, rng: random.Random) -> dict[str, ParamValue]:
    params: dict[str, ParamValue] = {}
    for spec in product.parameters:
        params[spec.name] = _random_value(spec, rng)
    return params


def _random_value(spec: ParameterSpec, rng: random.Random) -> ParamValue:
    if spec.type == "choice":
        return rng.choice(spec.choices)
    if spec.type == "bool":
        return rng.random() < 0.3
    if spec.type in ("int", "float"):
        lo = spec.min if spec.min is not None else 0.0
        hi = spec.max if spec.max is not None else lo + 100.0
        value = rng.uniform(lo, hi)
        return round(value) if spec.type == "int" else round(value, 1)
    return spec.default if isinstance(spec.default, str) else "custom"


BIG_PART_HOURS = 3.5
"""A product whose longest step takes longer than this per unit is a big part."""


def _longest_unit_hours(product: Product) -> float:
    return max(op.per_unit_minutes for op in product.routing) / 60.0


def _weight(product: Product) -> float:
    base = 3.0 if product.family in ("printed", "resin") else 1.5
    return base * min(1.0, BIG_PART_HOURS / _longest_unit_hours(product))


def _cap(product: Product, quantity: int) -> int:
    """At most a day (24 h) of the product's longest step in one line."""
    return max(1, min(quantity, int(24.0 / _longest_unit_hours(product))))


def order_stream(
    factory: Factory,
    start: datetime,
    days: float,
    rng: random.Random,
    *,
    orders_per_day: float = 9.0,
    rush_share: float = 0.08,
    prefix: str = "SO",
) -> list[GeneratedOrder]:
    """Orders arriving as a Poisson process over [start, start + days).

    The mix follows what a made-to-order shop sees: printed and resin parts twice as often
    as machined, laser-cut and assembled ones; big parts (over `BIG_PART_HOURS` a unit on
    their longest step) less often in proportion, and never more of them in one line than
    a day of that step (nobody orders forty 9-hour prints at once)."""
    products = list(factory.products)
    customers = [c.id for c in factory.customers] or ["web"]
    weights = [_weight(p) for p in products]
    out: list[GeneratedOrder] = []
    t = 0.0
    horizon = days * 24.0
    n = 0
    while True:
        t += rng.expovariate(orders_per_day / 24.0)
        if t >= horizon:
            break
        n += 1
        created = start + timedelta(hours=t)
        product = rng.choices(products, weights)[0]
        quantity = max(1, min(40, int(rng.lognormvariate(math.log(4), 0.8))))
        lines = [OrderLine(product.id, _cap(product, quantity), random_parameters(product, rng))]
        if rng.random() < 0.15:
            extra = rng.choice(products)
            lines.append(
                OrderLine(
                    extra.id, _cap(extra, max(1, quantity // 2)), random_parameters(extra, rng)
                )
            )
        work_hours = sum(
            op.minutes(line.quantity) / 60.0
            for line in lines
            for op in factory.product_map[line.product].routing
        )
        rush = rng.random() < rush_share
        slack_days = (1.0 if rush else rng.uniform(3.0, 8.0)) + work_hours / 16.0
        due = created + timedelta(days=slack_days)
        out.append(
            GeneratedOrder(
                order_id=f"{prefix}-{n:05d}",
                customer=rng.choice(customers),
                created=created,
                due=due,
                priority=5 if rush else rng.choice((2, 3, 3, 3, 4)),
                rush=rush,
                lines=tuple(lines),
            )
        )
    return out
