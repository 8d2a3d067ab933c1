"""Use cases for customer orders: take an order, import a CSV of orders, release orders into
work orders, list them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.core.ids import new_id, new_token, next_serial_id
from microfactory.core.timeutil import parse_rfc3339
from microfactory.orders import (
    Factory,
    Order,
    OrderLine,
    OrderStatus,
    WorkOrder,
    explode_work_orders,
)
from microfactory.services.factory import current_factory
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory

CSV_COLUMNS = ("order_id", "customer", "product", "quantity", "due", "priority", "parameters")
MAX_CSV_BYTES = 20_000_000


@dataclass(frozen=True)
class OrderRequest:
    customer: str
    lines: tuple[OrderLine, ...]
    due: datetime
    priority: int = 3
    rush: bool = False
    notes: str = ""
    order_id: str | None = None


def check_order_against_factory(order: Order, factory: Factory) -> None:
    """Products exist and parameters are valid for them (ValidationError naming the line)."""
    products = factory.product_map
    for n, line in enumerate(order.lines, start=1):
        product = products.get(line.product)
        if product is None:
            known = ", ".join(sorted(products))
            raise ValidationError(
                f"unknown product {line.product!r} (known: {known})", where=f"line {n}"
            )
        try:
            product.resolve_parameters(line.parameters)
        except ValueError as exc:
            raise ValidationError(str(exc), where=f"line {n}") from exc


def _build_order(req: OrderRequest, created: datetime, status: OrderStatus) -> Order:
    try:
        return Order(
            id=req.order_id or new_id("SO"),
            customer=req.customer,
            lines=req.lines,
            due=req.due,
            created=created,
            priority=req.priority,
            status=status,
            notes=req.notes,
            rush=req.rush,
        )
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def next_order_id(tx: UnitOfWork) -> str:
    """The next free short order id (``SO-00042``), never 32 hex digits."""

    def taken(order_id: str) -> bool:
        try:
            tx.orders.get(order_id)
        except NotFound:
            return False
        return True

    return next_serial_id("SO", taken)


def place_order(
    tx: UnitOfWork,
    req: OrderRequest,
    created: datetime,
    *,
    status: OrderStatus = OrderStatus.CONFIRMED,
    note: str = "order received",
) -> Order:
    """Validate and store an order inside an open unit of work (the caller commits)."""
    factory = current_factory(tx)
    if not req.order_id:
        req = replace(req, order_id=next_order_id(tx))
    order = _build_order(req, created, status)
    check_order_against_factory(order, factory)
    try:
        tx.customers.get(order.customer)
    except NotFound:
        raise ValidationError(f"unknown customer {order.customer!r}", where="customer") from None
    tx.orders.add(order, note=note)
    tx.orders.set_tracking_token(order.id, new_token())
    return order


def add_order(uow: UnitOfWorkFactory, clock: Clock, req: OrderRequest) -> Order:
    with uow() as tx:
        order = place_order(tx, req, clock.now())
        tx.commit()
    return order


def release_order(tx: UnitOfWork, order_id: str, at: datetime) -> list[WorkOrder]:
    """confirmed → released: explode the order into work orders (one per line)."""
    factory = current_factory(tx)
    order = tx.orders.get(order_id)
    if order.status != OrderStatus.CONFIRMED:
        raise Conflict(f"order {order_id} is {order.status}; only confirmed orders are released")
    work_orders = explode_work_orders(order, factory.product_map)
    for wo in work_orders:
        tx.work_orders.add(wo)
    tx.orders.set_status(order_id, OrderStatus.RELEASED, at, note="released to production")
    return work_orders


def list_orders(
    uow: UnitOfWorkFactory,
    *,
    status: Sequence[OrderStatus] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Order]:
    with uow() as tx:
        return tx.orders.find(status=status, limit=limit, offset=offset)


def _parse_parameters(text: str, where: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"parameters is not valid JSON: {exc.msg}", where=where) from exc
        except RecursionError:
            raise ValidationError("parameters JSON is nested too deeply", where=where) from None
        if not isinstance(value, dict):
            raise ValidationError("parameters must be a JSON object", where=where)
        return value
    out: dict[str, Any] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValidationError(f"parameter {part!r} is not name=value", where=where)
        key, raw = (s.strip() for s in part.split("=", 1))
        out[key] = _scalar(raw)
    return out


def _scalar(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


Row = tuple[int, Mapping[str, str]]
ORDER_FIELDS = ("customer", "due", "priority")
"""Columns that belong to the order, not the line: every row of one order_id must agree."""


def _read_rows(text: str, source: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise ValidationError(f"not a readable CSV file: {exc}", where=f"{source}:1") from None
    missing = [c for c in ("customer", "product", "quantity", "due") if c not in header]
    if missing:
        raise ValidationError(f"missing column(s) {', '.join(missing)}", where=f"{source}:1")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ValidationError(
            f"unknown column(s) {', '.join(unknown)} (allowed: {', '.join(CSV_COLUMNS)})",
            where=f"{source}:1",
        )
    rows: list[Row] = []
    try:
        for raw_row in reader:
            rows.append((reader.line_num, raw_row))
    except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit, ...
        raise ValidationError(
            f"not a readable CSV row: {exc}", where=f"{source}:{reader.line_num}"
        ) from None
    return rows


def _field(row: Mapping[str, str], name: str) -> str:
    return (row.get(name) or "").strip()


def _order_key(row: Mapping[str, str], line: int) -> str:
    return _field(row, "order_id") or f"__row{line}"


def _same_order_fields(key: str, rows: list[Row], source: str) -> list[tuple[str, str]]:
    """Rows of one order_id that disagree on its customer, due date or priority."""
    first_line, first = rows[0]
    problems: list[tuple[str, str]] = []
    for line, row in rows[1:]:
        for name in ORDER_FIELDS:
            a, b = _field(first, name), _field(row, name)
            if a == b or (name == "priority" and {a, b} <= {"", "3"}):
                continue
            if name == "due":
                try:
                    if parse_rfc3339(a) == parse_rfc3339(b):
                        continue
                except ValidationError:
                    pass
            problems.append(
                (
                    f"{source}:{line}",
                    f"order {key} has {name} {b!r} here but {a!r} on line {first_line}: the "
                    "rows of one order_id must agree on it",
                )
            )
    return problems


def _order_request(key: str, rows: list[Row], source: str) -> OrderRequest:
    """One order from its rows; ValidationError with every problem of these rows."""
    problems = _same_order_fields(key, rows, source)
    lines: list[OrderLine] = []
    for line, row in rows:
        where = f"{source}:{line}"
        try:
            quantity_text = _field(row, "quantity")
            try:
                quantity = int(quantity_text)
            except ValueError:
                raise ValidationError(
                    f"quantity {quantity_text[:40]!r} is not a whole number", where=where
                ) from None
            params = _parse_parameters(row.get("parameters") or "", where)
            try:
                lines.append(OrderLine(_field(row, "product"), quantity, params))
            except ValueError as exc:
                raise ValidationError(str(exc), where=where) from exc
        except ValidationError as exc:
            problems.append((exc.where or where, exc.reason))
    first_line, first = rows[0]
    where = f"{source}:{first_line}"
    due = None
    try:
        due = parse_rfc3339(_field(first, "due"))
    except ValidationError as exc:
        problems.append((where, exc.reason))
    prio_text = _field(first, "priority") or "3"
    priority = 3
    try:
        priority = int(prio_text)
    except ValueError:
        problems.append((where, f"priority {prio_text[:40]!r} is not 1–5"))
    if problems or due is None:
        raise ValidationError.of(problems, where=source)
    return OrderRequest(
        customer=_field(first, "customer"),
        lines=tuple(lines),
        due=due,
        priority=priority,
        order_id=None if key.startswith("__row") else key,
    )


def parse_orders_csv(text: str, source: str = "orders.csv") -> list[OrderRequest]:
    """Rows with the same order_id become lines of one order (they must agree on customer,
    due date and priority). Every bad row is reported, each with its line number."""
    grouped: dict[str, list[Row]] = {}
    for line, row in _read_rows(text, source):
        if None in row:
            grouped.setdefault(f"__bad{line}", []).append((line, row))
            continue
        grouped.setdefault(_order_key(row, line), []).append((line, row))
    requests: list[OrderRequest] = []
    problems: list[tuple[str, str]] = []
    for key, rows in grouped.items():
        if key.startswith("__bad"):
            problems.append((f"{source}:{rows[0][0]}", "more fields than columns"))
            continue
        try:
            requests.append(_order_request(key, rows, source))
        except ValidationError as exc:
            problems.extend(exc.problems or ((exc.where or source, exc.reason),))
    if problems:
        problems.sort(key=lambda p: _line_of(p[0]))
        raise ValidationError.of(problems, where=source)
    return requests


def _line_of(where: str) -> int:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def import_orders_csv(uow: UnitOfWorkFactory, clock: Clock, path: str | Path) -> list[Order]:
    """All or nothing: every bad row is named with its line and nothing from the file is
    stored unless every order is valid."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read: {exc.strerror}", where=str(file)) from exc
    if len(raw) > MAX_CSV_BYTES:
        raise ValidationError("file is larger than 20 MB", where=str(file))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte {exc.start})", where=str(file)) from exc
    requests = parse_orders_csv(text, file.name)
    if not requests:
        raise ValidationError("no orders in file", where=str(file))
    rows = _row_numbers(text)
    now = clock.now()
    orders: list[Order] = []
    problems: list[tuple[str, str]] = []
    with uow() as tx:
        for i, req in enumerate(requests):
            where = f"{file.name}:{rows[i]}"
            try:
                orders.append(place_order(tx, req, now, note=f"imported from {file.name}"))
            except (ValidationError, Conflict) as exc:
                reason = exc.reason if isinstance(exc, ValidationError) else str(exc)
                problems.append((where, reason))
        if problems:  # leaving without commit rolls back the orders placed so far
            raise ValidationError.of(problems, where=file.name)
        tx.commit()
    return orders


def _row_numbers(text: str) -> list[int]:
    """The first CSV line number of each order, in order (for error messages)."""
    reader = csv.DictReader(io.StringIO(text))
    seen: dict[str, int] = {}
    firsts: list[int] = []
    for row in reader:
        key = (row.get("order_id") or "").strip() or f"__row{reader.line_num}"
        if key not in seen:
            seen[key] = reader.line_num
            firsts.append(reader.line_num)
    return firsts
