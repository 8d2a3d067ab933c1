"""Quality read models for the dashboard: an individuals (I-MR) control chart of the latest
measurements of one characteristic, with its rule violations and capability."""

from __future__ import annotations

from dataclasses import dataclass

from microfactory.core.errors import NotFound, ValidationError
from microfactory.orders import Factory
from microfactory.quality.capability import process_capability
from microfactory.quality.charts import control_chart
from microfactory.services.ports import QualityStore

MIN_POINTS = 8


@dataclass(frozen=True)
class ChartView:
    product: str
    characteristic: str
    unit: str
    values: list[float]
    centre: float
    lcl: float
    ucl: float
    violations: list[tuple[int, str]]
    cp: float | None
    cpk: float | None
    lsl: float | None
    usl: float | None


def characteristic_chart(
    store: QualityStore, factory: Factory, product: str, characteristic: str, last: int = 100
) -> ChartView | None:
    """None when fewer than MIN_POINTS measurements exist."""
    found = factory.product_map.get(product)
    if found is None:
        raise NotFound(f"product {product} does not exist")
    char = next((c for c in found.characteristics if c.name == characteristic), None)
    if char is None:
        raise NotFound(f"{product} has no characteristic {characteristic}")
    if not 2 <= last <= 5000:
        raise ValidationError("last must be 2–5000", where="last")
    rows = store.measurements(product=product, characteristic=characteristic)
    values = [float(r["value"]) for r in rows][-last:]
    if len(values) < MIN_POINTS:
        return None
    chart = control_chart("imr", values)
    series = chart.series(chart.charts[0].name)
    cap = None
    if char.lsl is not None or char.usl is not None:
        cap = process_capability(values, lsl=char.lsl, usl=char.usl)
    return ChartView(
        product=product,
        characteristic=characteristic,
        unit=char.unit,
        values=values,
        centre=float(series.center.flat[0]),
        lcl=float(series.lcl.flat[0]),
        ucl=float(series.ucl.flat[0]),
        violations=[(v.index, v.rule) for v in series.violations],
        cp=None if cap is None else cap.cp,
        cpk=None if cap is None else cap.cpk,
        lsl=char.lsl,
        usl=char.usl,
    )
