"""Materials and their stock lots (traceability starts here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from microfactory.shopfloor.machines import check_id, check_number

MATERIAL_KINDS = ("filament", "resin", "powder", "sheet", "bar", "paint", "component", "packaging")


@dataclass(frozen=True)
class MaterialLot:
    id: str
    material: str
    quantity_kg: float
    received: datetime | None = None
    supplier: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "material lot id")
        check_number(self.quantity_kg, "quantity_kg", 0, 1e9, what="lot quantity_kg")
        if self.received is not None and self.received.tzinfo is None:
            raise ValueError("lot received time must be timezone-aware")


@dataclass(frozen=True)
class Material:
    """A stock material. `flow_mm3_s` is the volumetric rate for printing processes."""

    id: str
    name: str
    kind: str
    density_g_cm3: float
    cost_per_kg: float
    lots: tuple[MaterialLot, ...] = ()
    colour: str = ""
    flow_mm3_s: float | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "material id")
        if self.kind not in MATERIAL_KINDS:
            raise ValueError(f"material kind {self.kind!r} is unknown; use one of {MATERIAL_KINDS}")
        check_number(self.density_g_cm3, "density_g_cm3", 0.05, 25)
        check_number(self.cost_per_kg, "cost_per_kg", 0, 1e6)
        if self.flow_mm3_s is not None:
            check_number(self.flow_mm3_s, "flow_mm3_s", 0, 1e6, low_open=True)
        for lot in self.lots:
            if lot.material != self.id:
                raise ValueError(f"lot {lot.id} belongs to {lot.material}, not {self.id}")

    @property
    def stock_kg(self) -> float:
        return sum(lot.quantity_kg for lot in self.lots)
