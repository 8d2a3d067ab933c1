"""Stock use cases: receive a lot, adjust a lot with a reason, the stock view, the opening
stock of a factory file, the mass balance, consumption over time, CSV exports and the hook
by which a slicer's estimate replaces an operation's BOM.

Every change is a movement of the ledger (`orders.stock`), written with the lot's new
quantity in one unit of work. Bad input (an unknown material or lot, a quantity that is
negative or not finite, a receipt of an expired lot, a unit of another dimension) raises
`ValidationError` naming the field, before anything is written."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import to_rfc3339, zone
from microfactory.orders import Factory, Material, MaterialLot
from microfactory.orders.stock import (
    MaterialEstimate,
    Movement,
    MovementKind,
    StockAlert,
)
from microfactory.services.ports import UnitOfWork

STOCK_COLUMNS = ("material", "lot", "quantity", "unit", "location", "expires")
STOCK_CSV_COLUMNS = (*STOCK_COLUMNS, "supplier", "received", "cost", "purchase_order")
MOVEMENT_COLUMNS = (
    "id", "at", "kind", "material", "lot", "quantity", "unit", "work_order", "operation",
    "reason", "source",
)  # fmt: skip
MAX_REASON = 500


def find_material(factory: Factory, material_id: str, where: str = "material") -> Material:
    material = factory.material_map.get(material_id)
    if material is None:
        known = ", ".join(sorted(factory.material_map)) or "none"
        raise ValidationError(f"unknown material {material_id!r} (known: {known})", where=where)
    return material


def check_amount(
    value: Any, where: str, *, allow_zero: bool = False, signed: bool = False
) -> float:
    """A finite number (positive unless `allow_zero` / `signed`), else ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"must be a number, got {value!r}", where=where)
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"must be a finite number, got {value!r}", where=where)
    if signed:
        if number == 0:
            raise ValidationError("must not be zero", where=where)
    elif number < 0 or (number == 0 and not allow_zero):
        raise ValidationError(
            f"must be {'zero or more' if allow_zero else 'positive'}, got {value!r}", where=where
        )
    return number


def _in_unit(material: Material, quantity: float, unit: str | None, where: str) -> float:
    if unit is None or unit == material.unit:
        return quantity
    try:
        return material.to_stock_unit(quantity, unit)
    except ValueError as exc:
        raise ValidationError(str(exc), where=where) from None


# -- receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """A lot that arrived. `unit` defaults to the material's; `cost` is per that unit;
    `expires` defaults to the receipt plus the material's shelf life."""

    material: str
    lot: str
    quantity: float
    unit: str | None = None
    supplier: str = ""
    cost: float | None = None
    expires: datetime | None = None
    location: str = ""
    received: datetime | None = None
    purchase_order: str | None = None


def receive(
    tx: UnitOfWork, factory: Factory, receipt: Receipt, *, at: datetime, by: str = ""
) -> MaterialLot:
    """Store a new lot and its receipt; ask for a replan (work may have waited for it)."""
    lot = _checked_lot(factory, receipt, at)
    tx.stock.add_lot(lot)
    tx.stock.record(
        [
            Movement(
                MovementKind.RECEIPT,
                lot.material,
                lot.id,
                lot.quantity,
                lot.received or at,
                reason=f"purchase order {lot.purchase_order}" if lot.purchase_order else "receipt",
                source=by,
            )
        ]
    )
    tx.replans.request(at, "material_received", f"{lot.id} ({lot.material})")
    return lot


def _checked_lot(factory: Factory, receipt: Receipt, at: datetime) -> MaterialLot:
    material = find_material(factory, receipt.material)
    quantity = _in_unit(material, check_amount(receipt.quantity, "quantity"), receipt.unit, "unit")
    cost = None if receipt.cost is None else check_amount(receipt.cost, "cost", allow_zero=True)
    if cost is not None and receipt.unit not in (None, material.unit):
        cost = cost * receipt.quantity / quantity  # per stock unit
    received = receipt.received or at
    if received.tzinfo is None:
        raise ValidationError("must be timezone-aware", where="received")
    if received > at + timedelta(minutes=5):
        raise ValidationError("a lot cannot be received in the future", where="received")
    expires = receipt.expires
    if expires is None and material.shelf_life_days is not None:
        expires = received + timedelta(days=material.shelf_life_days)
    if expires is not None:
        if expires.tzinfo is None:
            raise ValidationError("must be timezone-aware", where="expires")
        if expires <= max(at, received):
            raise ValidationError(
                f"lot {receipt.lot} expired on {to_rfc3339(expires)}: an expired lot is not "
                "received into stock",
                where="expires",
            )
    if len(receipt.supplier) > 200:
        raise ValidationError("must be at most 200 characters", where="supplier")
    try:
        return MaterialLot(
            id=receipt.lot,
            material=material.id,
            quantity=quantity,
            received=received,
            supplier=receipt.supplier,
            location=receipt.location,
            expires=expires,
            cost=cost,
            purchase_order=receipt.purchase_order,
        )
    except ValueError as exc:
        field = "location" if "location" in str(exc) else "lot"
        raise ValidationError(str(exc), where=field) from None


def receive_opening_lots(tx: UnitOfWork, factory: Factory, at: datetime) -> int:
    """The factory file's lots that are not in stock yet, received as opening stock (a
    factory loaded again adds only new lots; stock already there is the ledger's)."""
    known = {
        lot.id
        for lot in tx.stock.lots(
            ids=[lot.id for m in factory.materials for lot in m.lots], with_empty=True
        )
    }
    movements: list[Movement] = []
    for material in factory.materials:
        for lot in material.lots:
            if lot.id in known or lot.quantity <= 0:
                continue
            tx.stock.add_lot(lot)
            movements.append(
                Movement(
                    MovementKind.RECEIPT,
                    material.id,
                    lot.id,
                    lot.quantity,
                    lot.received or at,
                    reason="opening stock",
                    source="factory file",
                )
            )
    tx.stock.record(movements)
    return len(movements)


# -- adjustments ------------------------------------------------------------------------------


def adjust(
    tx: UnitOfWork,
    factory: Factory,
    lot_id: str,
    *,
    reason: str,
    at: datetime,
    delta: float | None = None,
    count: float | None = None,
    by: str = "",
) -> MaterialLot:
    """Correct a lot by `delta` (signed) or to a counted / weighed `count`, with a reason."""
    lot = tx.stock.lot(lot_id)
    if lot is None:
        raise ValidationError(f"unknown material lot {lot_id!r}", where="lot")
    if not reason.strip():
        raise ValidationError("an adjustment needs a reason", where="reason")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"must be at most {MAX_REASON} characters", where="reason")
    if (delta is None) == (count is None):
        raise ValidationError("give either a change (delta) or a counted quantity", where="delta")
    if delta is not None:
        change = check_amount(delta, "delta", signed=True)
        if lot.quantity + change < -1e-9:
            raise ValidationError(
                f"lot {lot.id} holds {lot.quantity:g} {_unit(factory, lot)}; removing "
                f"{-change:g} would leave less than nothing",
                where="delta",
            )
    else:
        counted = check_amount(count, "count", allow_zero=True)
        change = counted - lot.quantity
        if abs(change) < 1e-12:
            raise ValidationError(f"lot {lot.id} holds {counted:g} already", where="count")
    tx.stock.record(
        [
            Movement(
                MovementKind.ADJUSTMENT,
                lot.material,
                lot.id,
                change,
                at,
                reason=reason.strip(),
                source=by,
            )
        ]
    )
    after = tx.stock.lot(lot.id)
    assert after is not None
    material = factory.material_map.get(lot.material)
    if material is not None and change < 0:
        on_hand = sum(x.quantity for x in tx.stock.lots(materials=[material.id]))
        alert = low_stock_alert(material, on_hand - change, on_hand, at)
        if alert is not None:
            tx.stock.add_alerts([alert])
    return after


def _unit(factory: Factory, lot: MaterialLot) -> str:
    material = factory.material_map.get(lot.material)
    return material.unit if material is not None else ""


def low_stock_alert(
    material: Material, before: float, after: float, at: datetime
) -> StockAlert | None:
    """An alert when stock fell below the safety stock (crossed it, not every issue below)."""
    floor = material.safety_stock
    if floor <= 0 or not (before >= floor > after):
        return None
    return StockAlert(
        f"low-stock:{material.id}:{at.strftime('%Y%m%dT%H%M%S')}",
        "low_stock",
        material.id,
        None,
        at,
        f"{material.name}: {after:.3g} {material.unit} on hand, below the safety stock of "
        f"{floor:g} {material.unit}",
    )


# -- reads --------------------------------------------------------------------------------------


def stock_rows(
    tx: UnitOfWork, factory: Factory, *, with_empty: bool = False
) -> list[dict[str, Any]]:
    """The stock view (the `materials list --json` contract, plus supplier, receipt, cost)."""
    rows = []
    for lot in tx.stock.lots(with_empty=with_empty):
        rows.append(
            {
                "material": lot.material,
                "lot": lot.id,
                "quantity": round(lot.quantity, 6),
                "unit": _unit(factory, lot),
                "location": lot.location,
                "expires": None if lot.expires is None else to_rfc3339(lot.expires),
                "supplier": lot.supplier,
                "received": None if lot.received is None else to_rfc3339(lot.received),
                "cost": lot.cost,
                "purchase_order": lot.purchase_order,
            }
        )
    return rows


@dataclass(frozen=True)
class MaterialBalance:
    material: str
    unit: str
    receipts: float
    issues: float
    adjusted_out: float
    discrepancies: float
    on_hand: float

    @property
    def error(self) -> float:
        return abs(self.receipts - self.issues - self.adjusted_out - self.on_hand)

    def as_dict(self) -> dict[str, Any]:
        return {
            "material": self.material,
            "unit": self.unit,
            "receipts": round(self.receipts, 6),
            "issues": round(self.issues, 6),
            "adjusted_out": round(self.adjusted_out, 6),
            "discrepancies": round(self.discrepancies, 6),
            "on_hand": round(self.on_hand, 6),
            "balanced": self.error <= 1e-6 * max(1.0, self.receipts),
        }


def mass_balance(tx: UnitOfWork, factory: Factory) -> list[MaterialBalance]:
    """Per material: receipts − issues − adjusted out against what the lots hold."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
    for b in tx.stock.balances():
        row = sums[b.material]
        for i, value in enumerate(
            (b.receipts, b.issues, b.adjusted_out, b.discrepancies, b.on_hand)
        ):
            row[i] += value
    for m in tx.stock.movements(kinds=[MovementKind.DISCREPANCY]):
        if m.lot is None:
            sums[m.material][3] += m.quantity
    out = []
    for material_id in sorted(set(sums) | set(factory.material_map)):
        r = sums[material_id]
        material = factory.material_map.get(material_id)
        out.append(MaterialBalance(material_id, material.unit if material else "", *r))
    return out


def consumption_by_day(
    movements: Iterable[Movement], timezone: str = "UTC"
) -> dict[date, dict[str, float]]:
    """Issued quantity per local day and material."""
    tz = zone(timezone)
    out: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for m in movements:
        if m.kind == MovementKind.ISSUE:
            out[m.at.astimezone(tz).date()][m.material] += m.quantity
    return {day: dict(v) for day, v in sorted(out.items())}


def movement_dict(m: Movement, factory: Factory | None = None) -> dict[str, Any]:
    material = factory.material_map.get(m.material) if factory is not None else None
    return {
        "id": m.id,
        "at": to_rfc3339(m.at),
        "kind": m.kind.value,
        "material": m.material,
        "lot": m.lot,
        "quantity": round(m.quantity, 6),
        "unit": material.unit if material is not None else "",
        "work_order": m.work_order,
        "operation": m.operation,
        "reason": m.reason,
        "source": m.source,
    }


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """RFC 4180 CSV with a header; a text cell that a spreadsheet would run as a formula is
    quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# -- estimates (quote, slicer) ---------------------------------------------------------------


def record_estimate(
    tx: UnitOfWork,
    factory: Factory,
    operation: str,
    material: str,
    quantity_per_part: float,
    unit: str,
    source: str,
) -> MaterialEstimate:
    """An estimate of `operation`'s material per part that replaces its BOM lines."""
    found = find_material(factory, material)
    per_part = check_amount(quantity_per_part, "quantity")
    _in_unit(found, per_part, unit, "unit")
    op = tx.work_orders.get_operation(operation)
    estimate = MaterialEstimate(operation, found.id, per_part, unit, source)
    tx.stock.set_estimate(op.work_order, estimate)
    return estimate


def record_slicer_estimate(
    tx: UnitOfWork, factory: Factory, operation: str, material: str, grams_per_part: float
) -> MaterialEstimate:
    """The print-farm hook: the slicer's (G-code) grams per part for a print operation. It
    replaces the quote's estimate and the BOM; consumption then issues it × (good + scrap)
    when the print finishes."""
    return record_estimate(tx, factory, operation, material, grams_per_part, "g", "slicer")
