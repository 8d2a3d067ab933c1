"""Foundation commands: init, factory show, orders add / list / import."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.core.clock import SystemClock
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import local_text, parse_rfc3339, to_rfc3339
from microfactory.orders import OrderLine, OrderStatus
from microfactory.services.factory import current_factory, init_factory
from microfactory.services.orders import OrderRequest, add_order, import_orders_csv, list_orders

factory_app = typer.Typer(help="Inspect the loaded factory.", no_args_is_help=True)
orders_app = typer.Typer(help="Customer orders.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]


def init_cmd(
    factory: Annotated[
        Path, typer.Option("--factory", help="Factory YAML file (default: the demo factory)")
    ] = DEMO_FACTORY,
    db: DbOpt = None,
) -> None:
    """Create or migrate the database and load the factory file (all or nothing)."""
    container = open_container(db)
    try:
        loaded = init_factory(container.uow, factory)
    finally:
        container.close()
    console.print(
        f"[green]loaded[/] {loaded.site.name}: {len(loaded.machines)} machines, "
        f"{len(loaded.products)} products, {len(loaded.materials)} materials "
        f"into {container.settings.database_url}"
    )


def factory_show(
    db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Machines, products and materials of the current factory."""
    container = open_container(db)
    try:
        with container.uow() as tx:
            f = current_factory(tx)
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "site": f.site.id,
                "machines": [
                    {
                        "id": m.id,
                        "type": m.type,
                        "area": m.area,
                        "capabilities": sorted(m.capabilities),
                    }
                    for m in f.machines
                ],
                "products": [p.id for p in f.products],
                "materials": [
                    {
                        "id": m.id,
                        "stock_kg": m.stock_kg,
                        "unit": m.unit,
                        "opening_stock": m.opening_stock,
                    }
                    for m in f.materials
                ],
            }
        )
        return
    table = Table(title=f"{f.site.name} — machines")
    for col in ("id", "type", "area", "capabilities", "€/h", "build volume"):
        table.add_column(col)
    for m in f.machines:
        volume = "×".join(f"{v:g}" for v in m.build_volume_mm) if m.build_volume_mm else "—"
        table.add_row(
            m.id, m.type, m.area, ", ".join(sorted(m.capabilities)), f"{m.cost_per_hour:g}", volume
        )
    console.print(table)
    products = Table(title="products")
    for col in ("id", "name", "operations", "parameters"):
        products.add_column(col)
    for p in f.products:
        products.add_row(
            p.id,
            p.name,
            " → ".join(op.capability for op in p.routing),
            ", ".join(s.name for s in p.parameters),
        )
    console.print(products)
    materials = Table(title="materials (opening stock: `materials list` shows stock now)")
    for col in ("id", "kind", "€/kg", "opening stock", "lots", "safety stock"):
        materials.add_column(col)
    for mat in f.materials:
        materials.add_row(
            mat.id,
            mat.kind,
            f"{mat.cost_per_kg:g}",
            f"{mat.opening_stock:g} {mat.unit}",
            str(len(mat.lots)),
            f"{mat.safety_stock:g} {mat.unit}",
        )
    console.print(materials)


def orders_add(
    customer: Annotated[str, typer.Option(help="Customer id")],
    product: Annotated[str, typer.Option(help="Product id")],
    quantity: Annotated[int, typer.Option(min=1)] = 1,
    due: Annotated[str | None, typer.Option(help="RFC 3339 due date (default: in 7 days)")] = None,
    priority: Annotated[int, typer.Option(min=1, max=5)] = 3,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE, repeatable")
    ] = None,
    rush: Annotated[bool, typer.Option("--rush")] = False,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Take one customer order."""
    clock = SystemClock()
    params: dict[str, object] = {}
    for item in param or []:
        if "=" not in item:
            raise ValidationError(f"--param {item!r} must be NAME=VALUE", where="--param")
        key, raw = item.split("=", 1)
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    due_at = parse_rfc3339(due) if due else clock.now() + timedelta(days=7)
    try:
        line = OrderLine(product=product, quantity=quantity, parameters=params)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    req = OrderRequest(customer=customer, lines=(line,), due=due_at, priority=priority, rush=rush)
    container = open_container(db)
    try:
        from microfactory.services.capacity import check_intake

        order = add_order(container.uow, clock, req)
        check = check_intake(container.uow, req.lines, due_at, clock.now())
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "id": order.id,
                "status": order.status.value,
                "due": to_rfc3339(order.due),
                "capacity": check.to_dict(),
            }
        )
    else:
        console.print(f"[green]order {order.id}[/] {order.status} due {to_rfc3339(order.due)}")
        if check.late:
            console.print(f"[yellow]capacity warning:[/] {check.message}")


def orders_list(
    status: Annotated[str | None, typer.Option(help="Filter by status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List orders, oldest first."""
    statuses = None
    if status:
        try:
            statuses = [OrderStatus(status)]
        except ValueError:
            allowed = ", ".join(s.value for s in OrderStatus)
            raise ValidationError(f"unknown status {status!r} (use {allowed})") from None
    container = open_container(db)
    try:
        orders = list_orders(container.uow, status=statuses, limit=limit)
        tz = container.timezone()
    finally:
        container.close()
    if as_json:
        print_json(
            [
                {
                    "id": o.id,
                    "customer": o.customer,
                    "status": o.status.value,
                    "due": to_rfc3339(o.due),
                    "lines": [{"product": ln.product, "quantity": ln.quantity} for ln in o.lines],
                }
                for o in orders
            ]
        )
        return
    table = Table(title=f"orders ({len(orders)})")
    for col in ("id", "customer", "status", "due", "lines"):
        table.add_column(col)
    for o in orders:
        lines = ", ".join(f"{ln.quantity}× {ln.product}" for ln in o.lines)
        table.add_row(o.id, o.customer, o.status.value, local_text(o.due, tz), lines)
    console.print(table)


def orders_import(
    file: Annotated[Path, typer.Argument(help="CSV with customer, product, quantity, due, ...")],
    db: DbOpt = None,
) -> None:
    """Import orders from CSV: all rows or none (a bad row names its line number)."""
    container = open_container(db)
    try:
        orders = import_orders_csv(container.uow, SystemClock(), file)
    finally:
        container.close()
    console.print(f"[green]imported {len(orders)} orders[/] from {file}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("init")(init_cmd)
    factory_app.command("show")(factory_show)
    app.add_typer(factory_app, name="factory")
    orders_app.command("add")(orders_add)
    orders_app.command("list")(orders_list)
    orders_app.command("import")(orders_import)
    app.add_typer(orders_app, name="orders")
