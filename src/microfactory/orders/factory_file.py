"""The human-editable factory file (YAML): read, validate, and report the first problem with
the file, the field path and the reason (`demo.yaml: machines[3].cost_per_hour: must not be
negative`). Parsing builds the domain objects, whose own invariants do the checking.

Limits (a file past them is refused, nothing stored): 5 MB of YAML; 200,000 values after YAML
aliases are expanded (an alias "bomb" of a few lines cannot ask for billions); every number
finite (`.inf` / `.nan` are refused wherever they appear); a machine `count` of 1 to
`MAX_MACHINE_COUNT` and at most `MAX_MACHINES` machines in all; the domain objects' own
ranges (e.g. operation minutes up to 100,000, cost per hour up to 1,000,000)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339, to_rfc3339
from microfactory.orders import (
    BomLine,
    Characteristic,
    Customer,
    Factory,
    Material,
    MaterialLot,
    ParameterSpec,
    Product,
    RoutingOperation,
)
from microfactory.orders.crew import Crew, CrewNeed, Operator
from microfactory.orders.materials import SupplierTerms
from microfactory.shopfloor import Area, Machine, Shift, ShiftCalendar, Site, Window
from microfactory.shopfloor.machines import FieldValueError
from microfactory.shopfloor.printers import HostSpec, check_profile, shipped_profiles

MAX_FACTORY_FILE_BYTES = 5_000_000
MAX_YAML_NODES = 200_000
"""Values in the parsed file, counting each expansion of a YAML alias."""
MAX_MACHINE_COUNT = 100
"""Most copies one machine entry may declare with `count`."""
MAX_MACHINES = 1_000
"""Most machines a factory may have (after `count` is expanded)."""


class _FieldError(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(path, f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _FieldError(path, f"expected a list, got {type(value).__name__}")
    return value


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Turn a domain object's ValueError into an error at this field path."""
    try:
        yield
    except _FieldError:
        raise
    except FieldValueError as exc:
        raise _FieldError(f"{path}.{exc.field}", str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise _FieldError(path, str(exc).strip("'\"")) from exc


def _known_keys(data: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted((k for k in data if k not in allowed), key=str)
    if unknown:
        raise _FieldError(f"{path}.{unknown[0]}", f"unknown field (allowed: {sorted(allowed)})")


def _num(data: dict[str, Any], key: str, path: str, default: float | None = None) -> float:
    if key not in data:
        if default is None:
            raise _FieldError(f"{path}.{key}", "required field is missing")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(f"{path}.{key}", f"expected a number, got {value!r}")
    if not math.isfinite(value) or abs(value) > 1e15:
        raise _FieldError(
            f"{path}.{key}", f"expected a finite number (within ±1e15), got {value!r}"
        )
    return float(value)


def _int(data: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
    """A whole number in [low, high] (2.0 is accepted as 2; 2.5, .inf and true are not)."""
    value = _num(data, key, path, float(default))
    if value != int(value):
        raise _FieldError(f"{path}.{key}", f"expected a whole number, got {data[key]!r}")
    if not low <= value <= high:
        raise _FieldError(f"{path}.{key}", f"must be {low} to {high}, got {int(value)}")
    return int(value)


def _count_nodes(data: Any, limit: int) -> int:
    """Values in `data` as a tree (each alias expanded), stopping at `limit`. Shared objects
    are sized once, so this is linear in the document even when the tree is exponential."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list) or (id(node) in sizes and not done):
            continue
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        if done:
            total = 1 + sum(
                sizes.get(id(c), 1) if isinstance(c, dict | list) else 1 for c in children
            )
            sizes[id(node)] = min(total, limit + 1)
            continue
        sizes[id(node)] = 1  # a cycle (YAML can make one) counts once while being sized
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list))
    return sizes.get(id(data), 1)


def _str(data: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
    if key not in data:
        if default is None:
            raise _FieldError(f"{path}.{key}", "required field is missing")
        return default
    value = data[key]
    if not isinstance(value, str):
        raise _FieldError(f"{path}.{key}", f"expected text, got {value!r}")
    return value


def _time(text: Any, path: str) -> time:
    if isinstance(text, int):  # YAML 1.1 reads 06:00 as sexagesimal minutes
        return time(text // 60 % 24, text % 60)
    try:
        return time.fromisoformat(str(text))
    except ValueError as exc:
        raise _FieldError(path, f"expected HH:MM, got {text!r}") from exc


def _when(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _FieldError(path, "timestamp needs a timezone (e.g. 2026-01-05T08:00:00Z)")
        return value
    try:
        return parse_rfc3339(str(value))
    except ValidationError as exc:
        raise _FieldError(path, exc.reason) from exc


def _calendar(raw: Any, path: str, timezone: str) -> ShiftCalendar:
    if raw is None:
        return ShiftCalendar(timezone=timezone)
    data = _mapping(raw, path)
    _known_keys(data, {"shifts", "unavailable"}, path)
    shifts = []
    for i, s in enumerate(_list(data.get("shifts"), f"{path}.shifts")):
        sp = f"{path}.shifts[{i}]"
        s = _mapping(s, sp)
        days = tuple(_list(s.get("days"), f"{sp}.days"))
        with _at(sp):
            _shift = Shift(
                days, _time(s.get("start"), f"{sp}.start"), _time(s.get("end"), f"{sp}.end")
            )
        shifts.append(_shift)
    windows = []
    for i, w in enumerate(_list(data.get("unavailable"), f"{path}.unavailable")):
        wp = f"{path}.unavailable[{i}]"
        w = _mapping(w, wp)
        with _at(wp):
            _window = Window(
                _when(w.get("start"), f"{wp}.start"),
                _when(w.get("end"), f"{wp}.end"),
                str(w.get("reason", "")),
            )
        windows.append(_window)
    return ShiftCalendar(tuple(shifts), tuple(windows), timezone)


MACHINE_KEYS = {
    "id", "name", "type", "area", "capabilities", "cost_per_hour", "calendar", "build_volume_mm",
    "setup_minutes", "setup_matrix", "speed_factor", "mtbf_hours", "mttr_hours", "count", "host",
    "profile", "crew",
}  # fmt: skip
HOST_KEYS = {"type", "url", "api_key_env", "timeout_s"}


def _host(raw: Any, path: str) -> HostSpec | None:
    if raw is None:
        return None
    data = _mapping(raw, path)
    if "api_key" in data or "apikey" in data:
        raise _FieldError(
            path, "never put the API key in the file; name its variable in api_key_env"
        )
    _known_keys(data, HOST_KEYS, path)
    with _at(path):
        spec = HostSpec(
            type=_str(data, "type", path),
            url=_str(data, "url", path),
            api_key_env=_str(data, "api_key_env", path),
            timeout_s=_num(data, "timeout_s", path, 5.0),
        )
    return spec


def _profile(raw: Any, path: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _FieldError(path, f"expected a profile name, got {raw!r}")
    with _at(path):
        check_profile(raw)
    if not raw.endswith(".ini") and raw not in shipped_profiles():
        raise _FieldError(
            path, f"unknown profile {raw!r}; shipped profiles: {', '.join(shipped_profiles())}"
        )
    return raw


def _calendar_ref(
    raw: Any, path: str, calendars: dict[str, ShiftCalendar], timezone: str
) -> ShiftCalendar:
    """A `calendar:` entry: the name of a declared calendar, or a calendar written inline."""
    if isinstance(raw, str):
        if raw not in calendars:
            raise _FieldError(path, f"unknown calendar {raw!r}")
        return calendars[raw]
    return _calendar(raw, path, timezone)


def _machines(raw: Any, calendars: dict[str, ShiftCalendar], timezone: str) -> list[Machine]:
    out: list[Machine] = []
    for i, m in enumerate(_list(raw, "machines")):
        p = f"machines[{i}]"
        m = _mapping(m, p)
        _known_keys(m, MACHINE_KEYS, p)
        calendar = _calendar_ref(m.get("calendar"), f"{p}.calendar", calendars, timezone)
        matrix: dict[tuple[str, str], float] = {}
        for j, row in enumerate(_list(m.get("setup_matrix"), f"{p}.setup_matrix")):
            rp = f"{p}.setup_matrix[{j}]"
            row = _mapping(row, rp)
            matrix[(_str(row, "from", rp), _str(row, "to", rp))] = _num(row, "minutes", rp)
        volume = m.get("build_volume_mm")
        if volume is not None:
            vp = f"{p}.build_volume_mm"
            volume = tuple(
                _num({"v": v}, "v", f"{vp}[{k}]") for k, v in enumerate(_list(volume, vp))
            )
        caps = _list(m.get("capabilities"), f"{p}.capabilities")
        count = _int(m, "count", p, 1, 1, MAX_MACHINE_COUNT)
        if len(out) + count > MAX_MACHINES:
            raise _FieldError(f"{p}.count", f"a factory may have at most {MAX_MACHINES} machines")
        base_id = _str(m, "id", p)
        host = _host(m.get("host"), f"{p}.host")
        if host is not None and count != 1:
            raise _FieldError(
                f"{p}.host", "a host drives one printer: give each printer its own entry (count: 1)"
            )
        profile = _profile(m.get("profile"), f"{p}.profile")
        for n in range(1, count + 1):
            ident = base_id if count == 1 else f"{base_id}-{n:02d}"
            name = _str(m, "name", p, base_id)
            with _at(p):
                _machine = Machine(
                    id=ident,
                    name=name if count == 1 else f"{name} #{n}",
                    type=_str(m, "type", p),
                    area=_str(m, "area", p),
                    capabilities=frozenset(str(c) for c in caps),
                    cost_per_hour=_num(m, "cost_per_hour", p),
                    calendar=calendar,
                    build_volume_mm=volume,
                    setup_minutes=_num(m, "setup_minutes", p, 0.0),
                    setup_matrix=matrix,
                    speed_factor=_num(m, "speed_factor", p, 1.0),
                    mtbf_hours=_num(m, "mtbf_hours", p, 400.0),
                    mttr_hours=_num(m, "mttr_hours", p, 3.0),
                    host=host,
                    profile=profile,
                )
            out.append(_machine)
    return out


MATERIAL_KEYS = {
    "id", "name", "kind", "density_g_cm3", "cost_per_kg", "lots", "colour", "flow_mm3_s",
    "unit", "suppliers", "safety_stock", "shelf_life_days",
}  # fmt: skip
LOT_KEYS = {
    "id", "quantity", "quantity_kg", "received", "supplier", "location", "expires", "cost",
}  # fmt: skip


def _lot(raw: Any, lp: str, mid: str, unit: str) -> MaterialLot:
    lot = _mapping(raw, lp)
    _known_keys(lot, LOT_KEYS, lp)
    if "quantity" in lot and "quantity_kg" in lot:
        raise _FieldError(f"{lp}.quantity_kg", "give quantity or quantity_kg, not both")
    if "quantity_kg" in lot and unit != "kg":
        raise _FieldError(
            f"{lp}.quantity_kg", f"unit mismatch: the material is stocked in {unit}; use quantity"
        )
    key = "quantity_kg" if "quantity_kg" in lot else "quantity"
    received = _when(lot["received"], f"{lp}.received") if "received" in lot else None
    expires = _when(lot["expires"], f"{lp}.expires") if "expires" in lot else None
    cost = _num(lot, "cost", lp) if lot.get("cost") is not None else None
    with _at(lp):
        _materiallot = MaterialLot(
            id=_str(lot, "id", lp),
            material=mid,
            quantity=_num(lot, key, lp),
            received=received,
            supplier=_str(lot, "supplier", lp, ""),
            location=_str(lot, "location", lp, ""),
            expires=expires,
            cost=cost,
        )
    return _materiallot


def _suppliers(raw: Any, p: str) -> tuple[SupplierTerms, ...]:
    out = []
    for j, s in enumerate(_list(raw, f"{p}.suppliers")):
        sp = f"{p}.suppliers[{j}]"
        s = _mapping(s, sp)
        _known_keys(s, {"name", "lead_time_days", "moq", "price"}, sp)
        with _at(sp):
            _terms = SupplierTerms(
                name=_str(s, "name", sp),
                lead_time_days=_num(s, "lead_time_days", sp),
                moq=_num(s, "moq", sp, 0.0),
                price=_num(s, "price", sp) if s.get("price") is not None else None,
            )
        out.append(_terms)
    return tuple(out)


def _materials(raw: Any) -> list[Material]:
    out = []
    for i, m in enumerate(_list(raw, "materials")):
        p = f"materials[{i}]"
        m = _mapping(m, p)
        _known_keys(m, MATERIAL_KEYS, p)
        mid = _str(m, "id", p)
        unit = _str(m, "unit", p, "kg")
        lots = [
            _lot(lot, f"{p}.lots[{j}]", mid, unit)
            for j, lot in enumerate(_list(m.get("lots"), f"{p}.lots"))
        ]
        flow = m.get("flow_mm3_s")
        shelf = m.get("shelf_life_days")
        with _at(p):
            _material = Material(
                id=mid,
                name=_str(m, "name", p, mid),
                kind=_str(m, "kind", p),
                density_g_cm3=_num(m, "density_g_cm3", p),
                cost_per_kg=_num(m, "cost_per_kg", p),
                lots=tuple(lots),
                colour=_str(m, "colour", p, ""),
                flow_mm3_s=None if flow is None else _num(m, "flow_mm3_s", p),
                unit=unit,
                suppliers=_suppliers(m.get("suppliers"), p),
                safety_stock=_num(m, "safety_stock", p, 0.0),
                shelf_life_days=None if shelf is None else _num(m, "shelf_life_days", p),
            )
        out.append(_material)
    return out


def _parameter(raw: Any, p: str) -> ParameterSpec:
    d = _mapping(raw, p)
    _known_keys(d, {"name", "type", "default", "min", "max", "choices", "unit"}, p)
    with _at(p):
        _parameterspec = ParameterSpec(
            name=_str(d, "name", p),
            type=_str(d, "type", p),
            default=d.get("default"),
            min=None if d.get("min") is None else _num(d, "min", p),
            max=None if d.get("max") is None else _num(d, "max", p),
            choices=tuple(str(c) for c in _list(d.get("choices"), f"{p}.choices")),
            unit=_str(d, "unit", p, ""),
        )
    return _parameterspec


OP_KEYS = {
    "seq", "name", "capability", "fixed_minutes", "per_unit_minutes", "setup_family", "machines",
    "after", "inspection", "crew",
}  # fmt: skip


def _operation(raw: Any, p: str, index: int) -> RoutingOperation:
    d = _mapping(raw, p)
    _known_keys(d, OP_KEYS, p)
    after = d.get("after")
    with _at(p):
        _routingoperation = RoutingOperation(
            seq=_int(d, "seq", p, index + 1, 1, 10_000),
            name=_str(d, "name", p, _str(d, "capability", p)),
            capability=_str(d, "capability", p),
            fixed_minutes=_num(d, "fixed_minutes", p, 0.0),
            per_unit_minutes=_num(d, "per_unit_minutes", p, 0.0),
            setup_family=d.get("setup_family"),
            machines=tuple(str(x) for x in _list(d.get("machines"), f"{p}.machines")),
            after=None
            if after is None
            else tuple(
                _int({"after": x}, "after", f"{p}.after[{k}]", 1, 1, 10_000)
                for k, x in enumerate(_list(after, f"{p}.after"))
            ),
            inspection=bool(d.get("inspection", False)),
        )
    return _routingoperation


def _products(raw: Any) -> list[Product]:
    out = []
    for i, d in enumerate(_list(raw, "products")):
        p = f"products[{i}]"
        d = _mapping(d, p)
        _known_keys(
            d,
            {
                "id",
                "name",
                "routing",
                "parameters",
                "bom",
                "characteristics",
                "base_price",
                "family",
            },
            p,
        )
        routing = tuple(
            _operation(op, f"{p}.routing[{j}]", j)
            for j, op in enumerate(_list(d.get("routing"), f"{p}.routing"))
        )
        params = tuple(
            _parameter(x, f"{p}.parameters[{j}]")
            for j, x in enumerate(_list(d.get("parameters"), f"{p}.parameters"))
        )
        bom = []
        for j, b in enumerate(_list(d.get("bom"), f"{p}.bom")):
            bp = f"{p}.bom[{j}]"
            b = _mapping(b, bp)
            with _at(bp):
                _bomline = BomLine(
                    component=_str(b, "component", bp),
                    quantity=_num(b, "quantity", bp),
                    unit=_str(b, "unit", bp, "kg"),
                    operation=None
                    if b.get("operation") is None
                    else _int(b, "operation", bp, 1, 1, 10_000),
                )
            bom.append(_bomline)
        chars = []
        for j, c in enumerate(_list(d.get("characteristics"), f"{p}.characteristics")):
            cp = f"{p}.characteristics[{j}]"
            c = _mapping(c, cp)
            with _at(cp):
                _characteristic = Characteristic(
                    name=_str(c, "name", cp),
                    operation=_int(c, "operation", cp, 0, 1, 10_000),
                    nominal=_num(c, "nominal", cp),
                    lsl=None if c.get("lsl") is None else _num(c, "lsl", cp),
                    usl=None if c.get("usl") is None else _num(c, "usl", cp),
                    unit=_str(c, "unit", cp, "mm"),
                    sample_every=_int(c, "sample_every", cp, 1, 1, 1_000_000),
                    subgroup_size=_int(c, "subgroup_size", cp, 1, 1, 25),
                )
            chars.append(_characteristic)
        with _at(p):
            _product = Product(
                id=_str(d, "id", p),
                name=_str(d, "name", p, _str(d, "id", p)),
                routing=routing,
                parameters=params,
                bom=tuple(bom),
                characteristics=tuple(chars),
                base_price=_num(d, "base_price", p, 0.0),
                family=_str(d, "family", p, ""),
            )
        out.append(_product)
    return out


RELATIVE_TIME = re.compile(r"^([+-])((?:\d{1,5}[wdhm])+)$")
RELATIVE_PART = re.compile(r"(\d{1,5})([wdhm])")
RELATIVE_UNIT = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def relative_time(value: str, at: datetime) -> datetime | None:
    """`-64d`, `+18d18h`, `+2w`: a time relative to `at`; None when `value` is not one."""
    match = RELATIVE_TIME.match(value.strip())
    if match is None:
        return None
    sign, parts = match.groups()
    delta = timedelta()
    for amount, unit in RELATIVE_PART.findall(parts):
        delta += timedelta(**{RELATIVE_UNIT[unit]: int(amount)})
    return at - delta if sign == "-" else at + delta


def resolve_relative_times(data: Any, at: datetime) -> Any:
    """A copy of a parsed factory file whose material lots' relative `received` / `expires`
    times (`-64d`, `+300d`) are resolved against `at` (the time the file is loaded; the
    demo's start for the demo), so opening stock is never stale whenever the file is
    loaded. Anything else is left for validation to judge."""
    if not isinstance(data, dict) or not isinstance(data.get("materials"), list):
        return data
    materials = []
    for m in data["materials"]:
        if isinstance(m, dict) and isinstance(m.get("lots"), list):
            lots = []
            for lot in m["lots"]:
                if isinstance(lot, dict):
                    lot = dict(lot)
                    for key in ("received", "expires"):
                        when = lot.get(key)
                        resolved = relative_time(when, at) if isinstance(when, str) else None
                        if resolved is not None:
                            lot[key] = to_rfc3339(resolved)
                lots.append(lot)
            m = {**m, "lots": lots}
        materials.append(m)
    return {**data, "materials": materials}


OPERATOR_KEYS = {"id", "name", "skills", "calendar"}
CREW_KEYS = {"skill", "attendance", "setup_minutes", "unload_minutes", "share_percent"}


def _crew_need(raw: Any, path: str) -> CrewNeed:
    data = _mapping(raw, path)
    _known_keys(data, CREW_KEYS, path)
    with _at(path):
        need = CrewNeed(
            skill=_str(data, "skill", path),
            attendance=_str(data, "attendance", path, "run"),
            setup_minutes=_num(data, "setup_minutes", path, 0.0),
            unload_minutes=_num(data, "unload_minutes", path, 0.0),
            share_percent=_int(data, "share_percent", path, 100, 1, 100),
        )
    return need


def _crew(
    root: dict[str, Any],
    machines: tuple[Machine, ...],
    products: tuple[Product, ...],
    calendars: dict[str, ShiftCalendar],
    timezone: str,
) -> Crew:
    """Operators (top-level `operators`) and the `crew` needs of machines and routing steps
    (the raw entries are read again here: a machine entry with `count` gives each copy its
    need)."""
    operators = []
    for i, raw in enumerate(_list(root.get("operators"), "operators")):
        p = f"operators[{i}]"
        d = _mapping(raw, p)
        _known_keys(d, OPERATOR_KEYS, p)
        calendar = _calendar_ref(d.get("calendar"), f"{p}.calendar", calendars, timezone)
        skills = _list(d.get("skills"), f"{p}.skills")
        with _at(p):
            person = Operator(
                id=_str(d, "id", p),
                name=_str(d, "name", p, _str(d, "id", p)),
                skills=frozenset(str(x) for x in skills),
                calendar=calendar,
            )
        operators.append(person)
    machine_needs: dict[str, CrewNeed] = {}
    ids = iter(m.id for m in machines)
    for i, raw in enumerate(_list(root.get("machines"), "machines")):
        m = _mapping(raw, f"machines[{i}]")
        count = _int(m, "count", f"machines[{i}]", 1, 1, MAX_MACHINE_COUNT)
        need = None if m.get("crew") is None else _crew_need(m["crew"], f"machines[{i}].crew")
        for _ in range(count):
            ident = next(ids)
            if need is not None:
                machine_needs[ident] = need
    step_needs: dict[tuple[str, int], CrewNeed] = {}
    raw_products = _list(root.get("products"), "products")
    for i, (raw, product) in enumerate(zip(raw_products, products, strict=True)):
        routing = _list(_mapping(raw, f"products[{i}]").get("routing"), f"products[{i}].routing")
        for j, (step, op) in enumerate(zip(routing, product.routing, strict=True)):
            crew = _mapping(step, f"products[{i}].routing[{j}]").get("crew")
            if crew is not None:
                step_needs[(product.id, op.seq)] = _crew_need(
                    crew, f"products[{i}].routing[{j}].crew"
                )
    return Crew(tuple(operators), machine_needs, step_needs)


def factory_from_dict(data: Any, *, at: datetime | None = None) -> Factory:
    """Build and validate a Factory from parsed YAML; raises ValidationError(where=path).
    Relative lot times are resolved against `at` (default: now)."""
    nodes = _count_nodes(data, MAX_YAML_NODES)
    if nodes > MAX_YAML_NODES:
        raise ValidationError(
            f"the file expands to more than {MAX_YAML_NODES} values (YAML aliases?)",
            where="(top level)",
        )
    data = resolve_relative_times(data, at or datetime.now(UTC))
    try:
        root = _mapping(data, "(top level)")
        _known_keys(
            root,
            {
                "site",
                "areas",
                "calendars",
                "machines",
                "materials",
                "products",
                "customers",
                "operators",
            },
            "(top level)",
        )
        s = _mapping(root.get("site"), "site")
        with _at("site"):
            _site = Site(
                id=_str(s, "id", "site"),
                name=_str(s, "name", "site"),
                timezone=_str(s, "timezone", "site", "UTC"),
                currency=_str(s, "currency", "site", "EUR"),
                locale=_str(s, "locale", "site", "en"),
            )
        site = _site
        areas = []
        for i, a in enumerate(_list(root.get("areas"), "areas")):
            ap = f"areas[{i}]"
            a = _mapping(a, ap)
            with _at(ap):
                areas.append(Area(id=_str(a, "id", ap), name=str(a.get("name", a.get("id")))))
        calendars = {
            str(name): _calendar(cal, f"calendars.{name}", site.timezone)
            for name, cal in _mapping(root.get("calendars") or {}, "calendars").items()
        }
        customers = []
        for i, c in enumerate(_list(root.get("customers"), "customers")):
            cp = f"customers[{i}]"
            c = _mapping(c, cp)
            with _at(cp):
                _customer = Customer(
                    id=_str(c, "id", cp),
                    name=_str(c, "name", cp),
                    email=_str(c, "email", cp, ""),
                    segment=_str(c, "segment", cp, "standard"),
                )
            customers.append(_customer)
        machines = tuple(_machines(root.get("machines"), calendars, site.timezone))
        products = tuple(_products(root.get("products")))
        factory = Factory(
            site=site,
            areas=tuple(areas),
            machines=machines,
            materials=tuple(_materials(root.get("materials"))),
            products=products,
            customers=tuple(customers),
            crew=_crew(root, machines, products, calendars, site.timezone),
        )
    except _FieldError as exc:
        raise ValidationError(exc.reason, where=exc.path) from None
    if not factory.machines:
        raise ValidationError("a factory needs at least one machine", where="machines")
    problems = factory.validate()
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ValidationError(first.reason + more, where=first.path)
    return factory


def load_factory(path: str | Path, *, at: datetime | None = None) -> Factory:
    """Read a factory YAML file. Errors name the file, the field path (or line) and the reason.
    Relative lot times are resolved against `at` (default: now)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read factory file: {exc.strerror}", where=str(file)) from exc
    return factory_from_yaml(raw, str(file), at=at)


def factory_from_yaml(
    raw: bytes, source: str = "factory.yaml", *, at: datetime | None = None
) -> Factory:
    """Parse and validate factory YAML held in memory; errors name `source`."""
    if len(raw) > MAX_FACTORY_FILE_BYTES:
        raise ValidationError("factory file is larger than 5 MB", where=source)
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(f"YAML syntax error: {problem}", where=f"{source}{line}") from exc
    except RecursionError:
        raise ValidationError("YAML is nested too deeply", where=source) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ValidationError(f"YAML value cannot be read: {exc}", where=source) from None
    try:
        return factory_from_dict(data, at=at)
    except ValidationError as exc:
        raise ValidationError(exc.reason, where=f"{source}: {exc.where}") from None
