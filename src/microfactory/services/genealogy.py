"""Genealogy, both ways, down to the customer.

    material lot ──issue──► operation ─► work order (part lot, serials) ─► order ─► customer

`trace(KEY)` accepts a material lot (forward: where did it go — every work order, part lot
and serial, order and customer, with quantities: a recall list), or an order, a work order,
a serial number, a measured part or a part lot (backward: what went into it — the material
lots with quantities, machines, measurements, NCRs and holds).

The forward trace reads the stock ledger's issues of the lot in one query (joined to work
orders and orders) and the serials in one more, so it stays fast on a long history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from microfactory.core.errors import NotFound
from microfactory.core.timeutil import to_rfc3339
from microfactory.orders import Factory
from microfactory.orders.stock import MovementKind
from microfactory.services.ports import QualityStore, UnitOfWork

Row = dict[str, Any]


def _iso(value: Any) -> Any:
    return to_rfc3339(value) if isinstance(value, datetime) else value


def _clean(row: Mapping[str, Any]) -> Row:
    return {k: _iso(v) for k, v in row.items()}


def trace(tx: UnitOfWork, store: QualityStore, key: str) -> Row:
    """The genealogy of `key` (see the module); NotFound when it names nothing known."""
    factory = tx.factory.current()
    if tx.stock.lot(key) is not None:
        return _forward(tx, store, factory, key)
    try:
        order = tx.orders.get(key)
    except NotFound:
        pass
    else:
        wos = [wo.id for wo in tx.work_orders.find(order=order.id)]
        return _backward(tx, store, factory, key, "order", wos, part=None, lot=None)
    try:
        wo = tx.work_orders.get(key)
    except NotFound:
        pass
    else:
        return _backward(tx, store, factory, key, "work_order", [wo.id], part=None, lot=wo.lot)
    serial = tx.trace.serial(key)
    if serial is not None:
        return _backward(
            tx, store, factory, key, "part", [serial.work_order], part=key, lot=serial.lot
        )
    measured = store.measurements(part_id=key)
    if measured:
        part_lot = measured[0]["lot_id"]
        wos = tx.trace.work_orders_of_lot(part_lot) if part_lot else []
        return _backward(tx, store, factory, key, "part", wos, part=key, lot=part_lot)
    wos = tx.trace.work_orders_of_lot(key)
    if wos:
        return _backward(tx, store, factory, key, "lot", wos, part=None, lot=key)
    raise NotFound(
        f"{key} is not a material lot, order, work order, serial number, measured part or lot"
    )


# -- forward: where a material lot went -----------------------------------------------------------


def _forward(tx: UnitOfWork, store: QualityStore, factory: Factory | None, key: str) -> Row:
    found = tx.stock.lot(key)
    assert found is not None
    material = factory.material_map.get(found.material) if factory is not None else None
    unit = material.unit if material is not None else ""
    consumers = tx.stock.consumers(key)
    held = store.held_lots()
    serials: dict[str, list[str]] = defaultdict(list)
    for s in tx.trace.serials_of([c.work_order for c in consumers]):
        serials[s.work_order].append(s.serial)
    by_order: dict[tuple[str, str], int] = {}
    for c in consumers:
        k = (c.customer, c.order)
        by_order[k] = by_order.get(k, 0) + c.parts
    work_orders = [
        {
            "id": c.work_order,
            "order": c.order,
            "customer": c.customer,
            "product": c.product,
            "lot": c.part_lot,
            "material_quantity": round(c.quantity, 6),
            "parts": c.parts,
            "serials": serials.get(c.work_order, []),
            "held": c.part_lot in held,
        }
        for c in consumers
    ]
    return {
        "query": key,
        "direction": "forward",
        "kind": "material_lot",
        "material_lot": {
            "id": found.id,
            "material": found.material,
            "unit": unit,
            "on_hand": round(found.quantity, 6),
            "supplier": found.supplier,
            "location": found.location,
            "received": _iso(found.received),
            "expires": _iso(found.expires),
            "purchase_order": found.purchase_order,
        },
        "consumed": round(sum(c.quantity for c in consumers), 6),
        "work_orders": work_orders,
        "orders": [
            {"id": order, "customer": customer}
            for customer, order in sorted(
                {(c.customer, c.order) for c in consumers}, key=lambda x: x[1]
            )
        ],
        "customers": [
            {"customer": customer, "order": order, "quantity": parts}
            for (customer, order), parts in sorted(
                by_order.items(), key=lambda x: (x[0][0], x[0][1])
            )
        ],
    }


# -- backward: what went into it ----------------------------------------------------------------


def _backward(
    tx: UnitOfWork,
    store: QualityStore,
    factory: Factory | None,
    key: str,
    kind: str,
    work_orders: list[str],
    *,
    part: str | None,
    lot: str | None,
) -> Row:
    moves = tx.stock.movements(
        work_orders=work_orders, kinds=[MovementKind.ISSUE, MovementKind.DISCREPANCY]
    )
    used: dict[str, list[Row]] = defaultdict(list)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    missing: dict[str, float] = defaultdict(float)
    for m in moves:
        if m.kind == MovementKind.ISSUE and m.lot is not None:
            totals[(m.material, m.lot)] += m.quantity
            used[m.work_order or ""].append(
                {
                    "material": m.material,
                    "material_lot": m.lot,
                    "operation": m.operation,
                    "quantity": round(m.quantity, 6),
                    "at": _iso(m.at),
                }
            )
        elif m.kind == MovementKind.DISCREPANCY:
            missing[m.material] += m.quantity

    def unit(material: str) -> str:
        found = factory.material_map.get(material) if factory is not None else None
        return found.unit if found is not None else ""

    traced = [_work_order_trace(tx, wo_id, used.get(wo_id, [])) for wo_id in work_orders]
    lots = {lot} if lot else {t["work_order"]["lot"] for t in traced}
    if part:
        measurements = store.measurements(part_id=part)
        ncrs = store.ncrs(part_id=part)
    else:
        measurements = [r for x in sorted(lots) for r in store.measurements(lot_id=x)]
        ncrs = [r for x in sorted(lots) for r in store.ncrs(lot_id=x)]
    return {
        "query": key,
        "direction": "backward",
        "kind": kind,
        "part": part,
        "lot": lot,
        "customers": sorted({t["order"]["customer"] for t in traced}),
        "materials": [
            {
                "material": material,
                "lot": material_lot,
                "quantity": round(q, 6),
                "unit": unit(material),
            }
            for (material, material_lot), q in sorted(totals.items())
        ],
        "discrepancies": [
            {"material": material, "quantity": round(q, 6), "unit": unit(material)}
            for material, q in sorted(missing.items())
        ],
        "work_orders": traced,
        "measurements": [_clean(r) for r in measurements],
        "ncrs": [_clean(r) for r in ncrs],
        "holds": [_clean(r) for x in sorted(lots) for r in store.holds(lot=x)],
    }


def _work_order_trace(tx: UnitOfWork, wo_id: str, used: list[Row]) -> Row:
    wo = tx.work_orders.get(wo_id)
    order = tx.orders.get(wo.order)
    operations = [
        {
            "id": op.id,
            "seq": op.seq,
            "name": op.name,
            "status": op.status.value,
            "machine": op.machine,
            "start": _iso(op.actual_start),
            "end": _iso(op.actual_end),
            "good": op.good,
            "rejected": op.rejected,
        }
        for op in sorted(wo.operations, key=lambda o: o.seq)
    ]
    return {
        "work_order": {
            "id": wo.id,
            "product": wo.product,
            "quantity": wo.quantity,
            "status": wo.status.value,
            "lot": wo.lot,
        },
        "order": {
            "id": order.id,
            "customer": order.customer,
            "status": order.status.value,
            "due": _iso(order.due),
        },
        "operations": operations,
        "machines": sorted({op["machine"] for op in operations if op["machine"]}),
        "operators": [],
        "serials": [s.serial for s in tx.trace.serials(wo.id)],
        "material_lots": used,
    }
