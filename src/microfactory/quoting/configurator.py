"""Product configurator: a catalog product with typed parameters (the domain's
`ParameterSpec`), rules between them, a parametric shape, and choice-driven extras.

A configuration is validated all at once (every broken rule is reported with its field
path), turned into a mesh, and priced by the same engine as an uploaded model; its routing is
the print step for the material's process, that process's finishing steps, and the steps the
chosen options add (paint for a painted finish, …).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from microfactory.core.errors import ValidationError
from microfactory.orders.products import ParameterSpec, ParamValue
from microfactory.quoting.engine import ModelQuote, QuoteOptions, quote_model
from microfactory.quoting.intake import LoadedModel
from microfactory.quoting.mesh import TriangleMesh
from microfactory.quoting.pricing import FinishingStep
from microfactory.quoting.processes import PrintMachine, PrintMaterial

#: shape → the dimensions (mm) it needs
SHAPES: dict[str, tuple[str, ...]] = {
    "box": ("length", "width", "height"),
    "cylinder": ("diameter", "height"),
    "tube": ("diameter", "wall", "height"),
}


@dataclass(frozen=True)
class Condition:
    """`parameter` is one of `values` (choices/bools) or within [minimum, maximum]."""

    parameter: str
    values: tuple[ParamValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def holds(self, value: ParamValue) -> bool:
        if self.values and value not in self.values:
            return False
        if self.minimum is not None and float(value) < self.minimum:
            return False
        return not (self.maximum is not None and float(value) > self.maximum)


@dataclass(frozen=True)
class Rule:
    """When every `when` condition holds, every `then` condition must hold."""

    name: str
    when: tuple[Condition, ...]
    then: tuple[Condition, ...]
    message: str


@dataclass(frozen=True)
class Extra:
    """What choosing `value` for `parameter` adds: a finishing step and/or a surcharge per
    part (a premium colour)."""

    parameter: str
    value: ParamValue
    step: FinishingStep | None = None
    surcharge_per_part: float = 0.0


@dataclass(frozen=True)
class ConfigurableProduct:
    id: str
    name: str
    shape: str
    dimensions: Mapping[str, str]
    """shape dimension → parameter name (or a number as text for a fixed size)"""
    parameters: tuple[ParameterSpec, ...]
    material_parameter: str = "material"
    rules: tuple[Rule, ...] = ()
    extras: tuple[Extra, ...] = ()

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape {self.shape!r} is unknown; use one of {sorted(SHAPES)}")
        names = {p.name for p in self.parameters}
        missing = [d for d in SHAPES[self.shape] if d not in self.dimensions]
        if missing:
            raise ValueError(f"product {self.id}: shape {self.shape} needs dimensions {missing}")
        for dim, ref in self.dimensions.items():
            if ref not in names and not _is_number(ref):
                raise ValueError(f"product {self.id}: dimension {dim} refers to unknown {ref!r}")
        if self.material_parameter not in names:
            raise ValueError(f"product {self.id}: no parameter {self.material_parameter!r}")
        for rule in self.rules:
            for cond in (*rule.when, *rule.then):
                if cond.parameter not in names:
                    raise ValueError(f"rule {rule.name}: unknown parameter {cond.parameter!r}")
        for extra in self.extras:
            if extra.parameter not in names:
                raise ValueError(f"extra on unknown parameter {extra.parameter!r}")


@dataclass(frozen=True)
class ConfiguredQuote:
    product: str
    values: Mapping[str, ParamValue]
    quote: ModelQuote
    routing: tuple[str, ...]
    surcharge: float
    total: float
    unit_price: float
    currency: str
    warnings: tuple[str, ...] = field(default=())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def configure(product: ConfigurableProduct, values: Mapping[str, Any]) -> dict[str, ParamValue]:
    """Typed, range-checked values with defaults filled in; every problem at once."""
    problems: list[str] = []
    known = {p.name for p in product.parameters}
    problems += [f"parameters.{k}: unknown parameter" for k in values if k not in known]
    out: dict[str, ParamValue] = {}
    for spec in product.parameters:
        raw = values.get(spec.name, spec.default)
        if raw is None:
            problems.append(f"parameters.{spec.name}: is required")
            continue
        try:
            out[spec.name] = spec.check(raw)
        except ValueError as exc:
            problems.append(f"parameters.{spec.name}: {exc}")
    if not problems:
        for rule in product.rules:
            if all(c.holds(out[c.parameter]) for c in rule.when):
                broken = [c.parameter for c in rule.then if not c.holds(out[c.parameter])]
                problems += [f"parameters.{p}: {rule.message} (rule {rule.name})" for p in broken]
    if problems:
        raise ValidationError("; ".join(problems), where=product.id)
    return out


def _dimension(product: ConfigurableProduct, values: Mapping[str, ParamValue], dim: str) -> float:
    ref = product.dimensions[dim]
    return float(ref) if _is_number(ref) else float(values[ref])


def build_mesh(product: ConfigurableProduct, values: Mapping[str, ParamValue]) -> TriangleMesh:
    """The part as a watertight mesh standing on z = 0."""
    import trimesh  # builds the primitives; imported here, not on every quote

    d = {dim: _dimension(product, values, dim) for dim in SHAPES[product.shape]}
    if product.shape == "box":
        mesh = trimesh.creation.box((d["length"], d["width"], d["height"]))
    elif product.shape == "cylinder":
        mesh = trimesh.creation.cylinder(radius=d["diameter"] / 2, height=d["height"], sections=96)
    else:
        outer = d["diameter"] / 2
        if not 0 < d["wall"] < outer:
            raise ValidationError("tube wall must be thinner than the radius", where=product.id)
        mesh = trimesh.creation.annulus(
            r_min=outer - d["wall"], r_max=outer, height=d["height"], sections=96
        )
    mesh.apply_translation(-np.asarray(mesh.bounds[0]))
    return TriangleMesh(np.asarray(mesh.vertices), np.asarray(mesh.faces))


def quote_configuration(
    product: ConfigurableProduct,
    values: Mapping[str, Any],
    *,
    quantity: int,
    machines: Sequence[PrintMachine],
    materials: Sequence[PrintMaterial],
    options: QuoteOptions | None = None,
) -> ConfiguredQuote:
    """Validate, build, route and price one configured product."""
    options = options or QuoteOptions()
    config = configure(product, values)
    material = str(config[product.material_parameter])
    chosen = [e for e in product.extras if config[e.parameter] == e.value]
    mats = {m.id: m for m in materials}
    if material not in mats:
        raise ValidationError(
            f"parameters.{product.material_parameter}: {material!r} is not a printable material",
            where=product.id,
        )
    process = mats[material].process
    steps = tuple(options.pricing.finishing.get(process, ())) + tuple(
        e.step for e in chosen if e.step is not None
    )
    priced = replace(
        options,
        pricing=replace(options.pricing, finishing={**options.pricing.finishing, process: steps}),
    )
    mesh = build_mesh(product, config)
    loaded = LoadedModel(product.id, mesh, "millimeter", True, False)
    quote = quote_model(
        loaded,
        material=material,
        quantity=quantity,
        machines=machines,
        materials=materials,
        options=priced,
    )
    surcharge = quantity * sum(e.surcharge_per_part for e in chosen)
    total = math.ceil((quote.price.total + surcharge) * 100 - 1e-9) / 100
    routing = (f"print ({process.value}, {quote.machine_id})", *quote.price.finishing_steps)
    return ConfiguredQuote(
        product=product.id,
        values=config,
        quote=quote,
        routing=routing,
        surcharge=round(surcharge, 2),
        total=total,
        unit_price=round(total / quantity, 2),
        currency=quote.price.currency,
        warnings=quote.warnings,
    )
