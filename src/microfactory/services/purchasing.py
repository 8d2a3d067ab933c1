"""Purchasing (MRP-lite) and material availability.

Requirements are the open work: every operation not done yet draws its material (the BOM
of its step, or its estimate) for the parts its work order makes, at its planned start in
the current plan (an operation not planned yet: at once). Against them stand the lots on
hand and the open purchase orders (at their due dates), and each material's safety stock,
suppliers, lead times and minimum order quantities (the factory file). `suggest` nets them
into purchase suggestions (`planning.mrp.net_requirements`); `StockAvailability` tells the
planner and capable-to-promise when material is there (`planning.mrp.ready_times`).

A purchase order is placed by a person (or the demo's purchasing clerk) and received as a
new lot: a receipt is a staff action, not a shop-floor event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from microfactory.core.errors import Conflict, ValidationError
from microfactory.core.timeutil import to_rfc3339
from microfactory.orders import Factory, Material, WorkOrder, WorkStatus
from microfactory.orders.materials import SupplierTerms
from microfactory.orders.stock import (
    MaterialEstimate,
    Need,
    PurchaseOrder,
    PurchaseStatus,
    operation_needs,
)
from microfactory.planning.mrp import (
    Demand,
    Policy,
    Suggestion,
    Supply,
    net_requirements,
    ready_times,
)
from microfactory.services.factory import current_factory
from microfactory.services.materials import Receipt, check_amount, find_material, receive
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory

OPEN_WORK = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.RUNNING, WorkStatus.HELD)
OPEN_OPS = (WorkStatus.PLANNED, WorkStatus.RELEASED, WorkStatus.RUNNING, WorkStatus.ABORTED,
            WorkStatus.HELD)  # fmt: skip


def policies(factory: Factory) -> dict[str, Policy]:
    return {
        m.id: Policy(m.id, m.safety_stock, m.suppliers, m.shelf_life_days, m.unit)
        for m in factory.materials
    }


def plan_sequence(tx: UnitOfWork) -> dict[str, datetime]:
    """Operation -> its start in the current plan."""
    stored = tx.plans.current_plan()
    if stored is None:
        return {}
    return {str(row["operation"]): row["start"] for row in stored[1]}


def demands(
    factory: Factory,
    work_orders: Sequence[WorkOrder],
    now: datetime,
    sequence: Mapping[str, datetime],
    estimates: Mapping[str, MaterialEstimate],
) -> list[Demand]:
    """What the open operations of `work_orders` will draw, in consumption order: the
    planned ones by planned start, then the others by due date."""
    products = factory.product_map
    materials = factory.material_map
    keyed: list[tuple[tuple[int, datetime, datetime, str], Demand]] = []
    cache: dict[tuple[str, int, tuple[tuple[str, object], ...]], list[Need]] = {}
    for wo in work_orders:
        if wo.status not in OPEN_WORK:
            continue
        for op in wo.operations:
            if op.status not in OPEN_OPS:
                continue
            estimate = estimates.get(op.id)
            if estimate is not None:
                needs = operation_needs(None, op.seq, {}, materials, estimate)
            else:
                key = (wo.product, op.seq, tuple(sorted(wo.parameters.items())))
                cached = cache.get(key)
                if cached is None:
                    cached = operation_needs(
                        products.get(wo.product), op.seq, wo.parameters, materials
                    )
                    cache[key] = cached
                needs = cached
            if not needs:
                continue
            planned = sequence.get(op.id)
            at = max(now, planned) if planned is not None else now
            order = (0 if planned is not None else 1, planned or wo.due, wo.due, op.id)
            for need in needs:
                keyed.append((order, Demand(need.material, need.per_part * wo.quantity, at, op.id)))
    keyed.sort(key=lambda item: item[0])
    return [d for _, d in keyed]


def supplies(tx: UnitOfWork, now: datetime) -> list[Supply]:
    out = [
        Supply(lot.material, lot.quantity, now, lot.expires, lot.id)
        for lot in tx.stock.lots()
        if lot.expires is None or lot.expires > now
    ]
    out.extend(
        Supply(po.material, po.quantity, po.due, None, po.id)
        for po in tx.purchases.find(status=PurchaseStatus.OPEN)
    )
    return out


def _open_work(tx: UnitOfWork) -> tuple[list[WorkOrder], dict[str, MaterialEstimate]]:
    work_orders = tx.work_orders.find(status=list(OPEN_WORK))
    ops = [op.id for wo in work_orders for op in wo.operations if op.status in OPEN_OPS]
    return work_orders, tx.stock.estimates(ops)


def suggest(
    tx: UnitOfWork, factory: Factory, now: datetime, horizon_days: float = 60.0
) -> list[Suggestion]:
    """Purchase suggestions over the horizon (see the module)."""
    work_orders, estimates = _open_work(tx)
    wanted = demands(factory, work_orders, now, plan_sequence(tx), estimates)
    return net_requirements(
        wanted, supplies(tx, now), policies(factory), now, now + timedelta(days=horizon_days)
    )


def suggestion_dict(s: Suggestion, factory: Factory) -> dict[str, Any]:
    """The `materials suggest --json` contract, plus unit, shortfall and late."""
    material = factory.material_map.get(s.material)
    return {
        "material": s.material,
        "supplier": s.supplier,
        "quantity": round(s.quantity, 6),
        "order_by": to_rfc3339(s.order_by),
        "needed_by": to_rfc3339(s.needed_by),
        "unit": material.unit if material is not None else "",
        "shortfall": s.shortfall,
        "late": s.late,
    }


# -- purchase orders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRequest:
    material: str
    quantity: float
    supplier: str | None = None
    due: datetime | None = None
    note: str = ""


def place_purchase_order(
    tx: UnitOfWork, factory: Factory, request: PurchaseRequest, at: datetime
) -> PurchaseOrder:
    """An open purchase order; due after the supplier's lead time unless given."""
    material = find_material(factory, request.material)
    quantity = check_amount(request.quantity, "quantity")
    terms = material.supplier(request.supplier)
    if request.supplier is not None and terms is None and material.suppliers:
        known = ", ".join(s.name for s in material.suppliers)
        raise ValidationError(
            f"{request.supplier!r} does not supply {material.id} (suppliers: {known})",
            where="supplier",
        )
    supplier = request.supplier or (terms.name if terms is not None else "")
    if not supplier:
        raise ValidationError(f"{material.id} has no supplier: name one", where="supplier")
    due = request.due or at + timedelta(days=terms.lead_time_days if terms else 0.0)
    if due.tzinfo is None:
        raise ValidationError("must be timezone-aware", where="due")
    if due < at:
        raise ValidationError("a purchase order cannot be due in the past", where="due")
    if len(request.note) > 500:
        raise ValidationError("must be at most 500 characters", where="note")
    number = tx.purchases.count() + 1
    po = PurchaseOrder(
        id=f"PO-{number:05d}",
        material=material.id,
        supplier=supplier,
        quantity=quantity,
        ordered=at,
        due=due,
        price=_price(material, terms),
        note=request.note,
    )
    tx.purchases.add(po)
    return po


def _price(material: Material, terms: SupplierTerms | None) -> float | None:
    """Per stock unit: the supplier's price, else the material's cost (kept per kg)."""
    if terms is not None and terms.price is not None:
        return terms.price
    return material.cost_per_kg if material.unit == "kg" else None


def receive_purchase_order(
    tx: UnitOfWork,
    factory: Factory,
    po_id: str,
    at: datetime,
    *,
    lot: str | None = None,
    quantity: float | None = None,
    expires: datetime | None = None,
    location: str = "",
    by: str = "",
) -> tuple[PurchaseOrder, Any]:
    """Receive an open purchase order as a new lot (all of it unless `quantity` says less
    or more arrived), stored where the material is kept unless `location` says otherwise."""
    po = tx.purchases.get(po_id)
    if po.status != PurchaseStatus.OPEN:
        raise Conflict(f"purchase order {po.id} is {po.status.value}, not open")
    if not location:  # where this material is kept
        kept = [x for x in tx.stock.lots(materials=[po.material], with_empty=True) if x.location]
        location = (
            max(kept, key=lambda x: (x.received or po.ordered, x.id)).location if kept else ""
        )
    received = receive(
        tx,
        factory,
        Receipt(
            material=po.material,
            lot=lot or f"{po.id}-L1",
            quantity=po.quantity if quantity is None else quantity,
            supplier=po.supplier,
            cost=po.price,
            expires=expires,
            location=location,
            purchase_order=po.id,
        ),
        at=at,
        by=by,
    )
    done = replace(
        po,
        status=PurchaseStatus.RECEIVED,
        received=at,
        received_quantity=received.quantity,
        lot=received.id,
    )
    tx.purchases.save(done)
    return done, received


def purchase_order_dict(po: PurchaseOrder, factory: Factory | None = None) -> dict[str, Any]:
    material = factory.material_map.get(po.material) if factory is not None else None
    return {
        "id": po.id,
        "material": po.material,
        "supplier": po.supplier,
        "quantity": po.quantity,
        "unit": material.unit if material is not None else "",
        "ordered": to_rfc3339(po.ordered),
        "due": to_rfc3339(po.due),
        "status": po.status.value,
        "received": None if po.received is None else to_rfc3339(po.received),
        "received_quantity": po.received_quantity,
        "lot": po.lot,
        "price": po.price,
        "note": po.note,
    }


@dataclass(frozen=True)
class ClerkRound:
    received: tuple[PurchaseOrder, ...]
    placed: tuple[PurchaseOrder, ...]


def purchasing_round(
    tx: UnitOfWork, factory: Factory, now: datetime, *, order_ahead: timedelta, by: str = "clerk"
) -> ClerkRound:
    """What a purchasing clerk does on a round: receive what arrived (open orders due by
    now) and order what MRP says must be ordered before the next round (`order_ahead`)."""
    received = [
        receive_purchase_order(tx, factory, po.id, now, by=by)[0]
        for po in tx.purchases.find(status=PurchaseStatus.OPEN)
        if po.due <= now
    ]
    placed = [
        place_purchase_order(
            tx,
            factory,
            PurchaseRequest(s.material, s.quantity, s.supplier, note="MRP suggestion"),
            now,
        )
        for s in suggest(tx, factory, now)
        if s.order_by <= now + order_ahead and s.supplier is not None
    ]
    return ClerkRound(tuple(received), tuple(placed))


# -- availability for the planner and capable-to-promise ------------------------------------------


class StockAvailability:
    """`services.ports.MaterialAvailability` over the stock, the open purchase orders and
    the factory's suppliers."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def ready_times(
        self,
        work_orders: Sequence[WorkOrder],
        now: datetime,
        sequence: Mapping[str, datetime] | None = None,
    ) -> dict[str, datetime]:
        with self.uow() as tx:
            factory = tx.factory.current()
            if factory is None or not factory.materials:
                return {}
            ops = [op.id for wo in work_orders for op in wo.operations if op.status in OPEN_OPS]
            estimates = tx.stock.estimates(ops)
            if sequence is None:
                sequence = plan_sequence(tx)
            stock = supplies(tx, now)
        wanted = demands(factory, work_orders, now, sequence, estimates)
        return ready_times(wanted, stock, policies(factory), now)

    def ready_for(
        self, material: str, quantity: float, unit: str, now: datetime
    ) -> tuple[datetime, str]:
        with self.uow() as tx:
            factory = current_factory(tx)
            found = factory.material_map.get(material)
            if found is None:
                return now, f"{material} is not stocked"
            try:
                amount = found.to_stock_unit(quantity, unit)
            except ValueError:
                return now, f"{material} is stocked in {found.unit}"
            work_orders, estimates = _open_work(tx)
            sequence = plan_sequence(tx)
            stock = supplies(tx, now)
            due = {po.id: po.due for po in tx.purchases.find(status=PurchaseStatus.OPEN)}
        wanted = demands(factory, work_orders, now, sequence, estimates)
        wanted.append(Demand(found.id, amount, now, "(quote)"))
        ready = ready_times(wanted, stock, policies(factory), now).get("(quote)")
        if ready is None:
            return now, f"{amount:.4g} {found.unit} {found.id} on hand"
        if ready in due.values():
            return ready, f"{found.id} due with an open purchase order on {to_rfc3339(ready)}"
        return ready, f"{found.id} must be bought first (lead time to {to_rfc3339(ready)})"
