"""Catalog products: typed, range-checked parameters; a routing of operations over
capabilities with a time model `fixed + per_unit × quantity`; a bill of materials; the
quality characteristics inspected on them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from microfactory.orders.materials import UNIT_FACTORS
from microfactory.shopfloor.machines import (
    MAX_MINUTES,
    FieldValueError,
    check_id,
    check_number,
)

PARAM_TYPES = ("int", "float", "str", "choice", "bool")
MAX_SEQ = 10_000
MAX_BOM_QUANTITY = 1e6
MAX_PRICE = 1e9
ParamValue = int | float | str | bool


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    default: ParamValue | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    def __post_init__(self) -> None:
        check_id(self.name, "parameter name")
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter type {self.type!r} is unknown; use one of {PARAM_TYPES}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name} needs choices")
        for bound, label in ((self.min, "min"), (self.max, "max")):
            if bound is not None:
                check_number(bound, label, -1e15, 1e15, what=f"parameter {self.name} {label}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"parameter {self.name}: min must not exceed max")
        if self.default is not None:
            self.check(self.default)

    def check(self, value: Any) -> ParamValue:
        """Return the value coerced to the declared type, or raise ValueError saying why."""
        name = self.name
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"parameter {name} must be true or false")
            return value
        if self.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"parameter {name} must be a number, got {value!r}")
            if self.type == "int" and float(value) != int(value):
                raise ValueError(f"parameter {name} must be a whole number, got {value!r}")
            number: float = int(value) if self.type == "int" else float(value)
            if not math.isfinite(number):
                raise ValueError(f"parameter {name} must be finite")
            if self.min is not None and number < self.min:
                raise ValueError(f"parameter {name}={number} is below its minimum {self.min}")
            if self.max is not None and number > self.max:
                raise ValueError(f"parameter {name}={number} is above its maximum {self.max}")
            return number
        if not isinstance(value, str):
            raise ValueError(f"parameter {name} must be text, got {value!r}")
        if self.type == "choice" and value not in self.choices:
            raise ValueError(f"parameter {name}={value!r} is not one of {list(self.choices)}")
        return value


@dataclass(frozen=True)
class RoutingOperation:
    """One step. Eligible machines: those with `capability`, narrowed to `machines` if given.
    `after` lists the seq numbers this step waits for (default: the previous step), which makes
    assembly merges possible. `setup_family` may name a product parameter in braces, e.g.
    "{colour}", so the changeover follows the order's options."""

    seq: int
    name: str
    capability: str
    fixed_minutes: float
    per_unit_minutes: float
    setup_family: str | None = None
    machines: tuple[str, ...] = ()
    after: tuple[int, ...] | None = None
    inspection: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.seq <= MAX_SEQ:
            raise FieldValueError("seq", f"operation seq must be 1 to {MAX_SEQ}")
        if not self.capability:
            raise ValueError("operation needs a capability")
        check_number(self.fixed_minutes, "fixed_minutes", 0, MAX_MINUTES)
        check_number(self.per_unit_minutes, "per_unit_minutes", 0, MAX_MINUTES)
        if self.fixed_minutes + self.per_unit_minutes <= 0:
            raise ValueError("operation needs a positive fixed or per-unit time")
        if self.after is not None and self.seq in self.after:
            raise ValueError("an operation cannot wait for itself")

    def minutes(self, quantity: int) -> float:
        return self.fixed_minutes + self.per_unit_minutes * quantity

    def family_for(self, parameters: Mapping[str, ParamValue]) -> str | None:
        family = self.setup_family
        if family is None:
            return None
        if family.startswith("{") and family.endswith("}"):
            return f"{family[1:-1]}={parameters.get(family[1:-1], '')}"
        return family


@dataclass(frozen=True)
class BomLine:
    """`component` is a material id or another product id; quantity per unit of product, in
    `unit` (converted to the material's stock unit; see `orders.materials`). `operation` is
    the routing step that consumes it (default: the first). The component may name a product
    parameter in braces, e.g. "pla-{colour}", so the material follows the order's options."""

    component: str
    quantity: float
    unit: str = "kg"
    operation: int | None = None

    def __post_init__(self) -> None:
        check_number(
            self.quantity, "quantity", 0, MAX_BOM_QUANTITY, low_open=True, what="BOM quantity"
        )
        if self.unit not in UNIT_FACTORS:
            raise ValueError(
                f"BOM unit {self.unit!r} is unknown; use one of {sorted(UNIT_FACTORS)}"
            )
        parameter = self.parameter
        if parameter is not None:
            check_id(parameter, "BOM component parameter")
        elif "{" in self.component or "}" in self.component:
            raise ValueError(f"BOM component {self.component!r}: write a parameter as {{name}}")

    @property
    def parameter(self) -> str | None:
        """The product parameter the component names in braces, if any."""
        match = _TEMPLATE.fullmatch(self.component)
        return match.group(2) if match else None

    def component_for(self, parameters: Mapping[str, ParamValue]) -> str:
        """The component for an order's resolved parameters."""
        match = _TEMPLATE.fullmatch(self.component)
        if match is None:
            return self.component
        return f"{match.group(1)}{parameters.get(match.group(2), '')}{match.group(3)}"

    def components(self, product: Product) -> list[str]:
        """Every component this line may resolve to on `product` (each choice)."""
        parameter = self.parameter
        if parameter is None:
            return [self.component]
        spec = next((p for p in product.parameters if p.name == parameter), None)
        if spec is None:
            return []
        return [self.component_for({parameter: choice}) for choice in spec.choices]


_TEMPLATE = re.compile(r"([^{}]*)\{([^{}]+)\}([^{}]*)")


@dataclass(frozen=True)
class Characteristic:
    """A measured quality characteristic of a product at one operation."""

    name: str
    operation: int
    nominal: float
    lsl: float | None
    usl: float | None
    unit: str = "mm"
    sample_every: int = 1
    subgroup_size: int = 1

    def __post_init__(self) -> None:
        check_id(self.name, "characteristic name")
        for value, label in ((self.nominal, "nominal"), (self.lsl, "lsl"), (self.usl, "usl")):
            if value is not None:
                check_number(value, label, -1e12, 1e12, what=f"characteristic {self.name} {label}")
        if self.lsl is None and self.usl is None:
            raise ValueError(f"characteristic {self.name} needs lsl, usl or both")
        if self.lsl is not None and self.usl is not None and not self.lsl < self.usl:
            raise ValueError(f"characteristic {self.name}: lsl must be below usl")
        if self.sample_every < 1 or not 1 <= self.subgroup_size <= 25:
            raise ValueError("sample_every must be ≥ 1 and subgroup_size 1–25")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    routing: tuple[RoutingOperation, ...]
    parameters: tuple[ParameterSpec, ...] = ()
    bom: tuple[BomLine, ...] = ()
    characteristics: tuple[Characteristic, ...] = ()
    base_price: float = 0.0
    family: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "product id")
        check_number(self.base_price, "base_price", 0, MAX_PRICE)
        if not self.routing:
            raise ValueError("a product needs at least one routing operation")
        seqs = [op.seq for op in self.routing]
        if len(set(seqs)) != len(seqs):
            raise ValueError("routing operation seq numbers must be unique")
        for op in self.routing:
            for dep in op.after or ():
                if dep not in seqs:
                    raise ValueError(f"operation {op.seq} waits for unknown operation {dep}")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        for line in self.bom:
            if line.operation is not None and line.operation not in seqs:
                raise ValueError(
                    f"BOM component {line.component!r} is consumed by unknown operation "
                    f"{line.operation}"
                )
            parameter = line.parameter
            if parameter is None:
                continue
            spec = next((p for p in self.parameters if p.name == parameter), None)
            if spec is None or spec.type != "choice":
                raise ValueError(
                    f"BOM component {line.component!r} names {parameter!r}, which is not a "
                    "choice parameter of the product"
                )
        for c in self.characteristics:
            if c.operation not in seqs:
                raise ValueError(
                    f"characteristic {c.name} refers to unknown operation {c.operation}"
                )
        self.predecessors()  # raises on a cycle

    def operation(self, seq: int) -> RoutingOperation:
        for op in self.routing:
            if op.seq == seq:
                return op
        raise KeyError(seq)

    def predecessors(self) -> dict[int, tuple[int, ...]]:
        """seq → the seqs it waits for; default chain in listed order. Raises on a cycle."""
        ordered = list(self.routing)
        preds: dict[int, tuple[int, ...]] = {}
        for i, op in enumerate(ordered):
            if op.after is not None:
                preds[op.seq] = op.after
            else:
                preds[op.seq] = (ordered[i - 1].seq,) if i else ()
        state: dict[int, int] = {}

        def visit(seq: int) -> None:
            if state.get(seq) == 1:
                raise ValueError(f"routing has a precedence cycle through operation {seq}")
            if state.get(seq) == 2:
                return
            state[seq] = 1
            for dep in preds[seq]:
                visit(dep)
            state[seq] = 2

        for seq in preds:
            visit(seq)
        return preds

    def bom_for(self, seq: int) -> tuple[BomLine, ...]:
        """The BOM lines consumed by routing step `seq` (a line without an operation is
        consumed by the first step)."""
        first = self.routing[0].seq
        return tuple(
            line
            for line in self.bom
            if (line.operation if line.operation is not None else first) == seq
        )

    def resolve_parameters(self, given: Mapping[str, Any]) -> dict[str, ParamValue]:
        """Check given parameters against the specs, fill defaults; unknown names are errors."""
        specs = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(specs))
        if unknown:
            raise ValueError(f"product {self.id} has no parameter(s) {', '.join(unknown)}")
        out: dict[str, ParamValue] = {}
        for name, spec in specs.items():
            if name in given:
                out[name] = spec.check(given[name])
            elif spec.default is not None:
                out[name] = spec.default
            else:
                raise ValueError(f"product {self.id} needs parameter {name}")
        return out


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str = ""
    segment: str = "standard"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_id(self.id, "customer id")
        if not self.name.strip():
            raise ValueError("customer name must not be empty")
        if self.email and "@" not in self.email:
            raise ValueError(f"customer email {self.email!r} is not an address")
