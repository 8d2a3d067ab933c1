"""Materials, their units and suppliers, and stock lots (traceability starts here).

A material is stocked in one unit (`kg`, `l`, `m` or `piece`); a bill of material or a
receipt may give a quantity in another unit of the same dimension (`g`, `ml`, `mm`, `pcs`),
which is converted. Quantities of different dimensions never mix: 1 l of resin is not 1 kg
(`convert` raises, naming both units). A lot is what arrived in one receipt: a spool, a
bottle, a bar, a box — with what is left of it, where it lies, who supplied it, when it came
and when it expires."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from microfactory.shopfloor.machines import check_id, check_number

MATERIAL_KINDS = ("filament", "resin", "powder", "sheet", "bar", "paint", "component", "packaging")
STOCK_UNITS = ("kg", "l", "m", "piece")
# unit -> (stock unit of its dimension, factor to it)
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "kg": ("kg", 1.0),
    "g": ("kg", 0.001),
    "l": ("l", 1.0),
    "ml": ("l", 0.001),
    "m": ("m", 1.0),
    "mm": ("m", 0.001),
    "piece": ("piece", 1.0),
    "pcs": ("piece", 1.0),
}
_DIMENSION = {"kg": "a mass", "l": "a volume", "m": "a length", "piece": "a count"}


def convert(quantity: float, unit: str, to: str) -> float:
    """`quantity` in `unit` expressed in `to`; ValueError for an unknown unit or a unit of
    another dimension (a unit mismatch)."""
    if unit not in UNIT_FACTORS:
        raise ValueError(f"unit {unit!r} is unknown; use one of {sorted(UNIT_FACTORS)}")
    if to not in UNIT_FACTORS:
        raise ValueError(f"unit {to!r} is unknown; use one of {sorted(UNIT_FACTORS)}")
    base, factor = UNIT_FACTORS[unit]
    target, target_factor = UNIT_FACTORS[to]
    if base != target:
        raise ValueError(
            f"unit mismatch: {unit} is {_DIMENSION[base]}, {to} is {_DIMENSION[target]}"
        )
    return quantity * factor / target_factor


def check_quantity(value: float, what: str, *, positive: bool = True) -> float:
    """A finite number, positive (or, with `positive=False`, not negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{what} must be positive, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SupplierTerms:
    """Who sells a material: days from order to receipt, the minimum order quantity (in the
    material's unit) and the price per unit (None: the material's cost)."""

    name: str
    lead_time_days: float
    moq: float = 0.0
    price: float | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("supplier name must not be empty")
        check_quantity(self.lead_time_days, "lead_time_days", positive=False)
        check_quantity(self.moq, "moq", positive=False)
        if self.lead_time_days > 365:
            raise ValueError("lead_time_days must be at most 365")
        if self.price is not None:
            check_quantity(self.price, "price", positive=False)


@dataclass(frozen=True)
class MaterialLot:
    """A lot of stock: `quantity` is what is left, in the material's unit (a spool's
    remaining weight). In a factory file, the opening stock."""

    id: str
    material: str
    quantity: float
    received: datetime | None = None
    supplier: str = ""
    location: str = ""
    expires: datetime | None = None
    cost: float | None = None
    purchase_order: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "material lot id")
        check_number(self.quantity, "quantity", 0, 1e9, what="lot quantity")
        for name, when in (("received", self.received), ("expires", self.expires)):
            if when is not None and when.tzinfo is None:
                raise ValueError(f"lot {name} time must be timezone-aware")
        if self.received is not None and self.expires is not None and self.expires <= self.received:
            raise ValueError(f"lot {self.id} expires before it was received")
        if self.cost is not None:
            check_quantity(self.cost, "lot cost", positive=False)
        if len(self.location) > 64:
            raise ValueError("lot location must be at most 64 characters")

    def expired(self, at: datetime) -> bool:
        return self.expires is not None and self.expires <= at


@dataclass(frozen=True)
class Material:
    """A stock material. `flow_mm3_s` is the volumetric rate for printing processes;
    `cost_per_kg` its price by mass (quoting; a lot keeps its own cost per stock unit).
    Purchasing: `suppliers` (the first is preferred),
    `safety_stock` (below it, stock is low and MRP orders more) and `shelf_life_days` (a
    received lot expires after it unless the receipt says otherwise)."""

    id: str
    name: str
    kind: str
    density_g_cm3: float
    cost_per_kg: float
    lots: tuple[MaterialLot, ...] = ()
    colour: str = ""
    flow_mm3_s: float | None = None
    unit: str = "kg"
    suppliers: tuple[SupplierTerms, ...] = ()
    safety_stock: float = 0.0
    shelf_life_days: float | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "material id")
        if self.kind not in MATERIAL_KINDS:
            raise ValueError(f"material kind {self.kind!r} is unknown; use one of {MATERIAL_KINDS}")
        check_number(self.density_g_cm3, "density_g_cm3", 0.05, 25)
        check_number(self.cost_per_kg, "cost_per_kg", 0, 1e6)
        if self.flow_mm3_s is not None:
            check_number(self.flow_mm3_s, "flow_mm3_s", 0, 1e6, low_open=True)
        if self.unit not in STOCK_UNITS:
            raise ValueError(f"material unit {self.unit!r} is unknown; use one of {STOCK_UNITS}")
        check_quantity(self.safety_stock, "safety_stock", positive=False)
        if self.shelf_life_days is not None:
            check_quantity(self.shelf_life_days, "shelf_life_days")
        names = [s.name for s in self.suppliers]
        if len(set(names)) != len(names):
            raise ValueError("supplier names must be unique per material")
        ids = [lot.id for lot in self.lots]
        if len(set(ids)) != len(ids):
            raise ValueError("lot ids must be unique")
        for lot in self.lots:
            if lot.material != self.id:
                raise ValueError(f"lot {lot.id} belongs to {lot.material}, not {self.id}")

    @property
    def opening_stock(self) -> float:
        """What the factory file's lots hold (in `unit`)."""
        return sum(lot.quantity for lot in self.lots)

    @property
    def stock_kg(self) -> float:
        """The opening stock in kg (kept for `factory show`); 0 for a material not stocked
        by mass."""
        return self.opening_stock if self.unit == "kg" else 0.0

    def supplier(self, name: str | None = None) -> SupplierTerms | None:
        """The named supplier, else the preferred one (None when none is known)."""
        if name is None:
            return self.suppliers[0] if self.suppliers else None
        return next((s for s in self.suppliers if s.name == name), None)

    def to_stock_unit(self, quantity: float, unit: str) -> float:
        """`quantity` given in `unit`, in this material's unit (ValueError on a mismatch)."""
        try:
            return convert(quantity, unit, self.unit)
        except ValueError as exc:
            raise ValueError(f"{exc} (material {self.id} is stocked in {self.unit})") from None
