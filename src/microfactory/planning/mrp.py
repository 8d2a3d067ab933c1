"""MRP-lite: time-phased net requirements of materials, and when material is there for work.

Inputs are plain: demands (an operation needs so much of a material at a time), supplies
(a lot on hand now, an open purchase order due at its date; each may expire) and each
material's policy (safety stock, suppliers with lead time and minimum order quantity).

`net_requirements` walks each material's demands in time order, drawing first-expiry-first-
out from the supplies that have arrived and not expired, and keeps the projected balance
(what is there, less what is owed). Whenever it would fall below the safety stock, it plans a
receipt at that moment of what brings it back (at least the supplier's minimum order
quantity): a purchase suggestion, needed by that moment, to be ordered a lead time before.
A balance already below safety stock now is a suggestion needed now (low stock). Open orders
that arrive before a new order could (within the shortest lead time) count as there: they
are to be expedited, not ordered twice.

`ready_times` answers the planner's question: in the plan's consumption order, when is each
operation's material there — now when stock covers everything drawn before it and it,
else when an open purchase order's receipt does, else (nothing covers it) as soon as the
fastest supplier could deliver."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from microfactory.orders.materials import SupplierTerms

EPSILON = 1e-9


@dataclass(frozen=True)
class Demand:
    material: str
    quantity: float
    at: datetime
    operation: str = ""


@dataclass(frozen=True)
class Supply:
    """Stock that is (lot, `at` = now) or will be (open purchase order, `at` = due) there."""

    material: str
    quantity: float
    at: datetime
    expires: datetime | None = None
    source: str = ""


@dataclass(frozen=True)
class Policy:
    material: str
    safety_stock: float = 0.0
    suppliers: tuple[SupplierTerms, ...] = ()
    shelf_life_days: float | None = None
    unit: str = "kg"
    """A material counted in pieces is ordered in whole pieces."""


@dataclass(frozen=True)
class Suggestion:
    """Order `quantity` of `material` from `supplier` by `order_by`, to have it by
    `needed_by`; `late` when `order_by` has passed already (expedite)."""

    material: str
    supplier: str | None
    quantity: float
    order_by: datetime
    needed_by: datetime
    shortfall: float
    late: bool = False


@dataclass
class _Lot:
    quantity: float
    at: datetime
    expires: datetime | None

    def usable(self, t: datetime) -> bool:
        return self.at <= t and (self.expires is None or self.expires > t)


@dataclass
class _Book:
    """One material's projected stock while walking its demands."""

    lots: list[_Lot] = field(default_factory=list)
    owed: float = 0.0

    def available(self, t: datetime) -> float:
        return sum(lot.quantity for lot in self.lots if lot.usable(t)) - self.owed

    def receive(self, lot: _Lot) -> None:
        pay = min(self.owed, lot.quantity)
        self.owed -= pay
        lot.quantity -= pay
        self.lots.append(lot)

    def draw(self, quantity: float, t: datetime) -> None:
        usable = sorted(
            (lot for lot in self.lots if lot.usable(t) and lot.quantity > EPSILON),
            key=lambda lot: (lot.expires is None, lot.expires or t, lot.at),
        )
        for lot in usable:
            take = min(lot.quantity, quantity)
            lot.quantity -= take
            quantity -= take
            if quantity <= EPSILON:
                return
        self.owed += max(0.0, quantity)


def choose_supplier(
    suppliers: Sequence[SupplierTerms], needed_by: datetime, now: datetime
) -> tuple[SupplierTerms | None, datetime, bool]:
    """The first (preferred) supplier that can deliver by `needed_by` ordering now or later,
    else the fastest (then late). Returns (supplier, order_by, late)."""
    if not suppliers:
        return None, needed_by, needed_by < now
    for supplier in suppliers:
        order_by = needed_by - timedelta(days=supplier.lead_time_days)
        if order_by >= now:
            return supplier, order_by, False
    fastest = min(suppliers, key=lambda s: s.lead_time_days)
    return fastest, needed_by - timedelta(days=fastest.lead_time_days), True


def net_requirements(
    demands: Iterable[Demand],
    supplies: Iterable[Supply],
    policies: Mapping[str, Policy],
    now: datetime,
    horizon: datetime,
) -> list[Suggestion]:
    """Purchase suggestions for the demands up to `horizon` (see the module)."""
    by_material: dict[str, list[Demand]] = defaultdict(list)
    for d in demands:
        if d.at <= horizon and d.quantity > 0:
            by_material[d.material].append(d)
    stock: dict[str, list[Supply]] = defaultdict(list)
    for s in supplies:
        if s.quantity > 0:
            stock[s.material].append(s)
    out: list[Suggestion] = []
    for material in sorted(set(by_material) | set(policies)):
        policy = policies.get(material, Policy(material))
        out.extend(
            _net_one(material, by_material.get(material, []), stock.get(material, []), policy, now)
        )
    return out


def _net_one(
    material: str,
    demands: list[Demand],
    supplies: list[Supply],
    policy: Policy,
    now: datetime,
) -> list[Suggestion]:
    book = _Book()
    arrivals = sorted(supplies, key=lambda s: max(s.at, now))
    a = 0
    out: list[Suggestion] = []

    def arrive_until(t: datetime) -> None:
        nonlocal a
        while a < len(arrivals) and max(arrivals[a].at, now) <= t:
            s = arrivals[a]
            book.receive(_Lot(s.quantity, max(s.at, now), s.expires))
            a += 1

    lead = min((s.lead_time_days for s in policy.suppliers), default=0.0)
    fence = now + timedelta(days=lead)

    def plan(t: datetime) -> None:
        # what is on order and arrives before a new order could is counted as there: inside
        # the lead time an open order is expedited, not ordered again
        coming = sum(s.quantity for s in arrivals[a:] if max(s.at, now) <= max(t, fence))
        short = policy.safety_stock - book.available(t) - coming
        if short <= EPSILON:
            return
        supplier, order_by, late = choose_supplier(policy.suppliers, t, now)
        quantity = max(short, supplier.moq if supplier is not None else 0.0)
        step = 1.0 if policy.unit == "piece" else 0.001
        quantity = math.ceil(quantity / step - 1e-6) * step
        expires = (
            None if policy.shelf_life_days is None else t + timedelta(days=policy.shelf_life_days)
        )
        book.receive(_Lot(quantity, t, expires))
        out.append(
            Suggestion(
                material,
                None if supplier is None else supplier.name,
                quantity,
                order_by,
                t,
                round(short, 6),
                late,
            )
        )

    arrive_until(now)
    plan(now)
    for d in sorted(demands, key=lambda d: (d.at, d.operation)):
        t = max(d.at, now)
        arrive_until(t)
        book.draw(d.quantity, t)
        plan(t)
    return out


def ready_times(
    demands: Sequence[Demand],
    supplies: Iterable[Supply],
    policies: Mapping[str, Policy],
    now: datetime,
) -> dict[str, datetime]:
    """Operation -> when its material is there, for the operations whose material is not on
    hand now; `demands` in consumption order (see the module). An operation needing several
    materials waits for the last of them."""
    curves: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for s in sorted(supplies, key=lambda s: max(s.at, now)):
        if s.quantity <= 0 or (s.expires is not None and s.expires <= max(s.at, now)):
            continue
        curve = curves[s.material]
        total = (curve[-1][1] if curve else 0.0) + s.quantity
        curve.append((max(s.at, now), total))
    drawn: dict[str, float] = defaultdict(float)
    index: dict[str, int] = defaultdict(int)
    out: dict[str, datetime] = {}
    for d in demands:
        if d.quantity <= 0:
            continue
        drawn[d.material] += d.quantity
        need = drawn[d.material] - EPSILON * max(1.0, drawn[d.material])
        curve = curves.get(d.material, [])
        k = index[d.material]
        while k < len(curve) and curve[k][1] < need:
            k += 1
        index[d.material] = k
        if k < len(curve):
            when = curve[k][0]
        else:
            policy = policies.get(d.material)
            lead = min((s.lead_time_days for s in policy.suppliers), default=0.0) if policy else 0
            when = now + timedelta(days=lead)
        if when > now and (d.operation not in out or out[d.operation] < when):
            out[d.operation] = when
    return out
