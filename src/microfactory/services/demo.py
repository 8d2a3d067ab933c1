"""The demo's order intake: load the demo factory and feed it a seeded stream of customer
orders, released into work orders. The closed loop (twin, scheduler, OEE, maintenance, SPC)
builds on this."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderStatus
from microfactory.orders.generator import GeneratedOrder, order_stream
from microfactory.services.factory import init_factory
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class IntakeSummary:
    orders: int
    order_lines: int
    work_orders: int
    operations: int
    work_hours: float


DEMO_START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
"""The demo's first moment (a Monday, 07:00 in Berlin): the same seed, the same history."""


def load_demo_factory(uow: UnitOfWorkFactory, path: Path, start: datetime = DEMO_START) -> Factory:
    """Load the demo factory; its relative lot times count from the demo's `start` (the
    shelves hold what they would on the demo's first day, whatever today's date)."""
    return init_factory(uow, path, FixedClock(start))


def take_orders(
    uow: UnitOfWorkFactory,
    orders: list[GeneratedOrder],
    *,
    release: bool = True,
    progress: Callable[[int], None] | None = None,
) -> IntakeSummary:
    """Store generated orders (and release them into work orders) in one transaction."""
    n_lines = n_wo = n_ops = 0
    hours = 0.0
    with uow() as tx:
        for i, g in enumerate(orders):
            req = OrderRequest(
                customer=g.customer,
                lines=g.lines,
                due=g.due,
                priority=g.priority,
                rush=g.rush,
                order_id=g.order_id,
            )
            place_order(tx, req, g.created)
            n_lines += len(g.lines)
            if release:
                wos = release_order(tx, g.order_id, g.created)
                n_wo += len(wos)
                n_ops += sum(len(w.operations) for w in wos)
                hours += sum(op.minutes for w in wos for op in w.operations) / 60.0
            if progress is not None:
                progress(i + 1)
        tx.commit()
    return IntakeSummary(len(orders), n_lines, n_wo, n_ops, round(hours, 1))


def generate_demo_orders(
    factory: Factory, start: datetime, days: float, seed: int
) -> list[GeneratedOrder]:
    return order_stream(factory, start, days, random.Random(seed))


def order_status_counts(uow: UnitOfWorkFactory) -> dict[str, int]:
    with uow() as tx:
        return {s.value: tx.orders.count(status=[s]) for s in OrderStatus}
