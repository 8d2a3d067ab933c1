"""Use case: quote a customer's 3D model against the current factory.

Intake and pricing come from the pure `microfactory.quoting` engine; the promise date comes
from the lead-time rule (`promise_basis` says so). Nothing is stored for a refused file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from microfactory.core.clock import Clock
from microfactory.core.timeutil import to_rfc3339
from microfactory.orders import Factory
from microfactory.quoting.engine import ModelQuote, QuoteOptions, quote_model
from microfactory.quoting.factory_inputs import printing_inputs
from microfactory.quoting.intake import IntakeLimits, LoadedModel, load_model, load_model_bytes
from microfactory.quoting.leadtime import LeadTimeRule, promise_date
from microfactory.quoting.pricing import PricingPolicy


@dataclass(frozen=True)
class QuoteResponse:
    """A priced, dated quote (not stored)."""

    quote: ModelQuote
    promised_date: datetime
    promise_basis: str
    quoted_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (CLI `quote --json`, API)."""
        q = self.quote
        return {
            "model": q.model,
            "volume_mm3": round(q.volume_mm3, 2),
            "surface_mm2": round(q.surface_mm2, 2),
            "bbox_mm": [round(v, 3) for v in q.bbox_mm],
            "mass_g": round(q.mass_g, 3),
            "mass_g_total": round(q.mass_g_total, 3),
            "machine_hours": round(q.machine_hours, 4),
            "price": q.price.total,
            "unit_price": q.price.unit_price,
            "currency": q.price.currency,
            "promised_date": to_rfc3339(self.promised_date),
            "promise_basis": self.promise_basis,
            "process": q.process.value,
            "machine": q.machine_id,
            "material": q.material_id,
            "quantity": q.quantity,
            "orientation": q.orientation,
            "oriented_bbox_mm": [round(v, 3) for v in q.oriented_bbox_mm],
            "support_volume_mm3": round(q.support_volume_mm3, 1),
            "layers": q.layers,
            "print_hours_per_part": round(q.print_hours_per_part, 4),
            "parts_per_plate": q.parts_per_plate,
            "plates": q.plates,
            "price_breakdown": {
                "machine": q.price.machine_cost,
                "material": q.price.material_cost,
                "setup": q.price.setup_cost,
                "finishing": q.price.finishing_cost,
                "finishing_steps": list(q.price.finishing_steps),
                "cost": q.price.cost,
                "margin": q.price.margin,
                "discount": q.price.discount,
            },
            "eligible_machines": list(q.eligible_machines),
            "quoted_at": to_rfc3339(self.quoted_at),
            "warnings": list(q.warnings),
        }


def _respond(
    factory: Factory,
    loaded: LoadedModel,
    material: str,
    quantity: int,
    clock: Clock,
    options: QuoteOptions | None,
    rule: LeadTimeRule | None,
) -> QuoteResponse:
    inputs = printing_inputs(factory)
    if options is None:
        options = QuoteOptions(pricing=PricingPolicy(currency=inputs.currency))
    quote = quote_model(
        loaded,
        material=material,
        quantity=quantity,
        machines=inputs.machines,
        materials=inputs.materials,
        options=options,
    )
    rule = rule or LeadTimeRule()
    now = clock.now()
    count = len(quote.eligible_machines)
    return QuoteResponse(
        quote=quote,
        promised_date=promise_date(now, quote.machine_hours, count, rule),
        promise_basis=rule.describe(count),
        quoted_at=now,
    )


def quote_file(
    factory: Factory,
    path: str | Path,
    *,
    material: str,
    quantity: int,
    clock: Clock,
    limits: IntakeLimits | None = None,
    units: str | None = None,
    options: QuoteOptions | None = None,
    rule: LeadTimeRule | None = None,
) -> QuoteResponse:
    """Quote the model file at `path`. Raises ValidationError for a refused file or model."""
    loaded = load_model(path, limits=limits, units=units)
    return _respond(factory, loaded, material, quantity, clock, options, rule)


def quote_upload(
    factory: Factory,
    data: bytes,
    filename: str,
    *,
    material: str,
    quantity: int,
    clock: Clock,
    limits: IntakeLimits | None = None,
    units: str | None = None,
    options: QuoteOptions | None = None,
    rule: LeadTimeRule | None = None,
) -> QuoteResponse:
    """Quote an uploaded model held in memory (the API's multipart upload)."""
    loaded = load_model_bytes(data, filename, limits=limits, units=units)
    return _respond(factory, loaded, material, quantity, clock, options, rule)
