"""Stock as a ledger: every change to a lot is an appended movement, never an edit.

    receipt      +quantity   a lot arrives (opening stock, a purchase order, a delivery)
    issue        −quantity   material goes into an operation (work order, operation kept)
    adjustment   ±quantity   a count or a weighing corrects the lot, with a reason
    discrepancy   0          an issue beyond what the lot holds: what was missing is recorded
                             (and alerted), never taken below zero

Mass balance, per lot and per material: on hand = receipts − issues − adjusted out, where
"adjusted out" is what adjustments removed (a positive adjustment is a negative removal).

Which lot an operation draws from: the one the machine or the operator reported, else
first-expiry-first-out over the lots that have stock and are not expired (a lot without an
expiry date comes last; ties by receipt, then id)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from microfactory.orders.materials import Material, MaterialLot, check_quantity
from microfactory.orders.products import ParamValue, Product
from microfactory.shopfloor.machines import check_id

EPSILON = 1e-9
_FAR = datetime.max.replace(tzinfo=None)


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    ADJUSTMENT = "adjustment"
    DISCREPANCY = "discrepancy"


@dataclass(frozen=True)
class Movement:
    """One line of the stock ledger. `quantity` is in the material's unit: what arrived, was
    issued or was missing (positive); for an adjustment, the signed change."""

    kind: MovementKind
    material: str
    lot: str | None
    quantity: float
    at: datetime
    work_order: str | None = None
    operation: str | None = None
    reason: str = ""
    source: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("movement time must be timezone-aware")
        if self.kind == MovementKind.ADJUSTMENT:
            if self.quantity == 0 or not math.isfinite(check_number(self.quantity)):
                raise ValueError("an adjustment must change the quantity by a finite amount")
            if not self.reason.strip():
                raise ValueError("an adjustment needs a reason")
        else:
            check_quantity(self.quantity, f"{self.kind} quantity")
        if self.kind != MovementKind.DISCREPANCY and self.lot is None:
            raise ValueError(f"a {self.kind} needs a lot")

    @property
    def delta(self) -> float:
        """The change to the lot's quantity on hand."""
        if self.kind == MovementKind.RECEIPT:
            return self.quantity
        if self.kind == MovementKind.ISSUE:
            return -self.quantity
        if self.kind == MovementKind.ADJUSTMENT:
            return self.quantity
        return 0.0


@dataclass
class LotStock:
    """A lot's quantity on hand while a batch of issues is worked out."""

    id: str
    material: str
    quantity: float
    received: datetime | None = None
    expires: datetime | None = None

    @classmethod
    def of(cls, lot: MaterialLot) -> LotStock:
        return cls(lot.id, lot.material, lot.quantity, lot.received, lot.expires)

    def fefo_key(self) -> tuple[datetime, datetime, str]:
        def naive(value: datetime | None) -> datetime:
            return _FAR if value is None else value.replace(tzinfo=None)

        return (naive(self.expires), naive(self.received), self.id)


@dataclass(frozen=True)
class Allocation:
    """Where an issue of `requested` was taken from, and what no lot could give."""

    taken: tuple[tuple[str, float], ...]
    shortfall: float
    requested: float


def allocate(
    lots: Iterable[LotStock],
    quantity: float,
    at: datetime,
    *,
    preferred: str | None = None,
) -> Allocation:
    """Take `quantity` from `lots` (changing their quantities): the preferred lot first (the
    one reported, even expired: it is what was used), then first-expiry-first-out over the
    lots with stock that have not expired at `at`."""
    check_quantity(quantity, "issue quantity", positive=False)
    pool = list(lots)
    order = sorted(
        (lot for lot in pool if lot.id != preferred and not _expired(lot, at)),
        key=LotStock.fefo_key,
    )
    first = [lot for lot in pool if lot.id == preferred]
    left = quantity
    taken: list[tuple[str, float]] = []
    for lot in first + order:
        if left <= EPSILON:
            break
        if lot.quantity <= EPSILON:
            continue
        share = min(lot.quantity, left)
        lot.quantity -= share
        if lot.quantity < EPSILON:
            lot.quantity = 0.0
        left -= share
        taken.append((lot.id, share))
    return Allocation(tuple(taken), max(0.0, left) if left > EPSILON else 0.0, quantity)


def check_number(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"quantity must be a number, got {value!r}")
    return float(value)


def _expired(lot: LotStock, at: datetime) -> bool:
    return lot.expires is not None and lot.expires <= at


# -- what an operation consumes ----------------------------------------------------------------


@dataclass(frozen=True)
class MaterialEstimate:
    """A per-part estimate of one operation's material that replaces the BOM for it: the
    accepted quote's grams, or (`source="slicer"`) the slicer's G-code estimate."""

    operation: str
    material: str
    quantity: float
    unit: str = "kg"
    source: str = "quote"

    def __post_init__(self) -> None:
        check_quantity(self.quantity, "estimate quantity")
        if self.source not in ("quote", "slicer", "manual"):
            raise ValueError("estimate source must be quote, slicer or manual")


@dataclass(frozen=True)
class OperationMaterials:
    """What consumption needs to know of one operation: its step of which product, with the
    work order's options, and an estimate that replaces its BOM lines (if any)."""

    operation: str
    work_order: str
    seq: int
    product: str
    quantity: int
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    estimate: MaterialEstimate | None = None


@dataclass(frozen=True)
class Need:
    material: str
    per_part: float
    """In the material's stock unit."""


def operation_needs(
    product: Product | None,
    seq: int,
    parameters: Mapping[str, ParamValue],
    materials: Mapping[str, Material],
    estimate: MaterialEstimate | None = None,
) -> list[Need]:
    """Per part made: what step `seq` of `product` consumes from stock, in each material's
    unit. An estimate replaces the step's BOM lines. Components that are products (made, not
    stocked) and unknown materials are not stocked: left out."""
    out: dict[str, float] = {}
    if estimate is not None:
        material = materials.get(estimate.material)
        if material is not None:
            out[material.id] = material.to_stock_unit(estimate.quantity, estimate.unit)
        return [Need(m, q) for m, q in out.items()]
    if product is None:
        return []
    for line in product.bom_for(seq):
        component = line.component_for(parameters)
        material = materials.get(component)
        if material is None:
            continue
        out[component] = out.get(component, 0.0) + material.to_stock_unit(line.quantity, line.unit)
    return [Need(m, q) for m, q in out.items()]


@dataclass(frozen=True)
class Consumer:
    """Where a material lot went (forward genealogy): one work order (of an order, for a
    customer), the material it took from the lot and the good parts of the operations that
    took it."""

    work_order: str
    order: str
    customer: str
    product: str
    part_lot: str
    quantity: float
    parts: int


# -- purchasing ---------------------------------------------------------------------------------


class PurchaseStatus(StrEnum):
    OPEN = "open"
    RECEIVED = "received"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PurchaseOrder:
    id: str
    material: str
    supplier: str
    quantity: float
    ordered: datetime
    due: datetime
    status: PurchaseStatus = PurchaseStatus.OPEN
    received: datetime | None = None
    received_quantity: float | None = None
    lot: str | None = None
    price: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "purchase order id")
        check_quantity(self.quantity, "purchase order quantity")
        if self.ordered.tzinfo is None or self.due.tzinfo is None:
            raise ValueError("purchase order times must be timezone-aware")
        if self.due < self.ordered:
            raise ValueError("a purchase order cannot be due before it was ordered")
        if not self.supplier.strip():
            raise ValueError("a purchase order needs a supplier")


@dataclass(frozen=True)
class StockAlert:
    """Low stock, a lot about to expire, or an issue beyond stock (a discrepancy)."""

    id: str
    kind: str
    material: str
    lot: str | None
    at: datetime
    message: str

    def __post_init__(self) -> None:
        if self.kind not in ("low_stock", "expiry", "discrepancy"):
            raise ValueError(f"unknown stock alert kind {self.kind!r}")


@dataclass(frozen=True)
class LotBalance:
    """One lot's ledger against its quantity on hand (the mass balance)."""

    material: str
    lot: str
    receipts: float
    issues: float
    adjusted_out: float
    discrepancies: float
    on_hand: float

    @property
    def expected(self) -> float:
        return self.receipts - self.issues - self.adjusted_out

    @property
    def error(self) -> float:
        return abs(self.expected - self.on_hand)


def balances(lots: Sequence[MaterialLot], movements: Iterable[Movement]) -> list[LotBalance]:
    """The mass balance of every lot from the ledger (what `StockRepository.balances`
    computes in the database), for checks and tests."""
    sums: dict[str, list[float]] = {lot.id: [0.0, 0.0, 0.0, 0.0] for lot in lots}
    for m in movements:
        if m.lot is None or m.lot not in sums:
            continue
        row = sums[m.lot]
        index = {
            MovementKind.RECEIPT: 0,
            MovementKind.ISSUE: 1,
            MovementKind.ADJUSTMENT: 2,
            MovementKind.DISCREPANCY: 3,
        }[m.kind]
        row[index] += -m.quantity if m.kind == MovementKind.ADJUSTMENT else m.quantity
    out = []
    for lot in lots:
        receipts, issues, adjusted_out, missing = sums[lot.id]
        out.append(
            LotBalance(lot.material, lot.id, receipts, issues, adjusted_out, missing, lot.quantity)
        )
    return out
