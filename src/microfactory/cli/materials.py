"""`microfactory materials ...`: stock by lot, receipts, adjustments, the ledger, CSV
exports, the mass balance, purchase suggestions (MRP) and purchase orders.

Times are the shop's "now": the wall clock, or on a demo database the end of its simulated
run (as the dashboard shows it)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import local_text, parse_rfc3339

materials_app = typer.Typer(
    help="Stock by lot, receipts, adjustments, the ledger, MRP suggestions and purchase orders.",
    no_args_is_help=True,
)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
UserOpt = Annotated[str, typer.Option("--user", envvar="USER", help="Who (default: $USER)")]


def _when(text: str | None, where: str) -> datetime | None:
    """RFC 3339, or a date (YYYY-MM-DD, midnight UTC)."""
    if text is None:
        return None
    value = text.strip()
    if len(value) == 10:
        value += "T00:00:00Z"
    try:
        return parse_rfc3339(value)
    except ValidationError as exc:
        raise ValidationError(exc.reason, where=where) from None


def _run(work: Any, db: str | None) -> Any:
    """Run `work(tx, factory, now, container)` in one unit of work and commit."""
    from microfactory.services.factory import current_factory

    container = open_container(db)
    try:
        now = container.shop_clock().now()
        with container.uow() as tx:
            factory = current_factory(tx)
            result = work(tx, factory, now, container)
            tx.commit()
        return result
    finally:
        container.close()


def list_cmd(
    material: Annotated[str | None, typer.Option("--material", help="Only this material")] = None,
    all_lots: Annotated[bool, typer.Option("--all", help="Empty lots too")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stock by lot: material, lot, quantity, unit, location, expiry."""
    from microfactory.services.materials import stock_rows

    rows = _run(lambda tx, f, now, c: (stock_rows(tx, f, with_empty=all_lots), c.timezone()), db)
    data, tz = rows
    if material is not None:
        data = [r for r in data if r["material"] == material]
    if as_json:
        print_json(data)
        return
    for r in data:
        expires = local_text(parse_rfc3339(r["expires"]), tz)[:10] if r["expires"] else "-"
        console.print(
            f"{r['material']:<13} {r['lot']:<16} {r['quantity']:>10.3f} {r['unit']:<5} "
            f"{r['location'] or '-':<14} expires {expires}",
            soft_wrap=True,
        )


def receive_cmd(
    material: Annotated[str | None, typer.Argument(help="Material id (not with --po)")] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="The new lot's id")] = None,
    quantity: Annotated[float | None, typer.Option("--quantity", help="How much arrived")] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit (default: the material's)")
    ] = None,
    supplier: Annotated[str, typer.Option("--supplier")] = "",
    cost: Annotated[float | None, typer.Option("--cost", help="Cost per unit")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="RFC 3339 or YYYY-MM-DD")] = None,
    location: Annotated[str, typer.Option("--location", help="Where it is stored")] = "",
    po: Annotated[str | None, typer.Option("--po", help="Receive this purchase order")] = None,
    user: UserOpt = "stores",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Receive a lot into stock (a delivery, or a purchase order with --po)."""
    from microfactory.services.materials import Receipt, receive, stock_rows
    from microfactory.services.purchasing import receive_purchase_order

    expiry = _when(expires, "--expires")

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> dict[str, Any]:
        if po is not None:
            if material is not None and material != tx.purchases.get(po).material:
                raise ValidationError(
                    f"purchase order {po} is not for {material}", where="material"
                )
            _, got = receive_purchase_order(
                tx, factory, po, now, lot=lot, quantity=quantity, expires=expiry,
                location=location, by=f"user:{user}",
            )  # fmt: skip
        else:
            if material is None:
                raise ValidationError("name the material (or --po)", where="material")
            if lot is None:
                raise ValidationError("the new lot needs an id", where="--lot")
            if quantity is None:
                raise ValidationError("say how much arrived", where="--quantity")
            got = receive(
                tx,
                factory,
                Receipt(material, lot, quantity, unit, supplier, cost, expiry, location),
                at=now,
                by=f"user:{user}",
            )
        return next(r for r in stock_rows(tx, factory, with_empty=True) if r["lot"] == got.id)

    row = _run(work, db)
    if as_json:
        print_json(row)
        return
    typer.echo(f"received {row['lot']}: {row['quantity']:g} {row['unit']} {row['material']}")


def adjust_cmd(
    lot: Annotated[str, typer.Argument(help="Lot id")],
    reason: Annotated[str, typer.Option("--reason", help="Why (count, weighing, damage)")],
    delta: Annotated[
        float | None, typer.Option("--delta", help="Signed change (-0.2 removes 0.2)")
    ] = None,
    count: Annotated[float | None, typer.Option("--count", help="The counted quantity")] = None,
    user: UserOpt = "stores",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a lot by a change or to a counted (weighed) quantity, with a reason."""
    from microfactory.services.materials import adjust

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> Any:
        return adjust(
            tx, factory, lot, reason=reason, at=now, delta=delta, count=count, by=f"user:{user}"
        )

    got = _run(work, db)
    data = {"lot": got.id, "material": got.material, "quantity": round(got.quantity, 6)}
    if as_json:
        print_json(data)
        return
    typer.echo(f"{got.id} now holds {got.quantity:g}")


def movements_cmd(
    material: Annotated[str | None, typer.Option("--material")] = None,
    lot: Annotated[str | None, typer.Option("--lot")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000)] = 200,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The stock ledger (newest last): receipts, issues, adjustments, discrepancies."""
    from microfactory.services.materials import movement_dict

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> list[dict[str, Any]]:
        moves = tx.stock.movements(material=material, lot=lot, limit=limit)
        return [movement_dict(m, factory) for m in moves]

    rows = _run(work, db)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        where = r["operation"] or r["reason"]
        console.print(
            f"{r['at'][:16]}  {r['kind']:<11} {r['material']:<12} {r['lot'] or '-':<16} "
            f"{r['quantity']:>10.4g} {r['unit']:<5} {where}",
            soft_wrap=True,
        )


def export_cmd(
    what: Annotated[str, typer.Argument(help="stock or movements")],
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout)")] = None,
    db: DbOpt = None,
) -> None:
    """CSV of the stock by lot or of the whole ledger."""
    from microfactory.services.materials import (
        MOVEMENT_COLUMNS,
        STOCK_CSV_COLUMNS,
        movement_dict,
        stock_rows,
        to_csv,
    )

    if what not in ("stock", "movements"):
        raise ValidationError("export stock or movements", where="what")

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> str:
        if what == "stock":
            return to_csv(stock_rows(tx, factory, with_empty=True), STOCK_CSV_COLUMNS)
        return to_csv([movement_dict(m, factory) for m in tx.stock.movements()], MOVEMENT_COLUMNS)

    text = _run(work, db)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def balance_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Mass balance per material: receipts − issues − adjusted out = on hand."""
    from microfactory.services.materials import mass_balance

    rows = _run(lambda tx, f, now, c: [b.as_dict() for b in mass_balance(tx, f)], db)
    if as_json:
        print_json({"balanced": all(r["balanced"] for r in rows), "materials": rows})
        return
    for r in rows:
        mark = "ok" if r["balanced"] else "MISMATCH"
        console.print(
            f"{r['material']:<13} received {r['receipts']:>10.3f} issued {r['issues']:>10.3f} "
            f"adjusted out {r['adjusted_out']:>8.3f} on hand {r['on_hand']:>10.3f} {r['unit']:<5} "
            f"{mark}",
            soft_wrap=True,
        )


def suggest_cmd(
    horizon: Annotated[float, typer.Option("--horizon-days", min=1, max=366)] = 60.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Purchase suggestions (MRP net requirements against stock, open orders and safety
    stock): material, supplier, quantity, order by, needed by."""
    from microfactory.services.purchasing import suggest, suggestion_dict

    rows = _run(
        lambda tx, f, now, c: [suggestion_dict(s, f) for s in suggest(tx, f, now, horizon)], db
    )
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("nothing to order")
    for r in rows:
        late = "  LATE: expedite" if r["late"] else ""
        console.print(
            f"{r['material']:<13} {r['quantity']:>9g} {r['unit']:<5} from {r['supplier'] or '?'}: "
            f"order by {r['order_by'][:16]}, needed by {r['needed_by'][:16]}{late}",
            soft_wrap=True,
        )


def order_cmd(
    material: Annotated[str, typer.Argument(help="Material id")],
    quantity: Annotated[float, typer.Option("--quantity")],
    supplier: Annotated[str | None, typer.Option("--supplier")] = None,
    due: Annotated[str | None, typer.Option("--due", help="Default: after the lead time")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Place a purchase order (open until received)."""
    from microfactory.services.purchasing import (
        PurchaseRequest,
        place_purchase_order,
        purchase_order_dict,
    )

    when = _when(due, "--due")

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> dict[str, Any]:
        po = place_purchase_order(
            tx, factory, PurchaseRequest(material, quantity, supplier, when, note), now
        )
        return purchase_order_dict(po, factory)

    row = _run(work, db)
    if as_json:
        print_json(row)
        return
    typer.echo(f"{row['id']}: {row['quantity']:g} {row['unit']} {material} due {row['due']}")


def orders_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help="open, received, cancelled")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Purchase orders, by due date."""
    from microfactory.orders.stock import PurchaseStatus
    from microfactory.services.purchasing import purchase_order_dict

    if status is not None and status not in {s.value for s in PurchaseStatus}:
        raise ValidationError("use open, received or cancelled", where="--status")

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> list[dict[str, Any]]:
        found = tx.purchases.find(status=None if status is None else PurchaseStatus(status))
        return [purchase_order_dict(po, factory) for po in found]

    rows = _run(work, db)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']}  {r['status']:<9} {r['material']:<13} {r['quantity']:>9g} {r['unit']:<5} "
            f"{r['supplier']}  due {r['due'][:16]}"
        )


def alerts_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Stock alerts: low stock, lots about to expire, issues beyond stock."""
    from microfactory.core.timeutil import to_rfc3339

    def work(tx: Any, factory: Any, now: datetime, _: Any) -> list[dict[str, Any]]:
        return [
            {
                "id": a.id,
                "kind": a.kind,
                "material": a.material,
                "lot": a.lot,
                "at": to_rfc3339(a.at),
                "message": a.message,
            }
            for a in tx.stock.alerts()
        ]

    rows = _run(work, db)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['at'][:16]}  {r['kind']:<11} {r['message']}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    materials_app.command("list")(list_cmd)
    materials_app.command("receive")(receive_cmd)
    materials_app.command("adjust")(adjust_cmd)
    materials_app.command("movements")(movements_cmd)
    materials_app.command("export")(export_cmd)
    materials_app.command("balance")(balance_cmd)
    materials_app.command("suggest")(suggest_cmd)
    materials_app.command("order")(order_cmd)
    materials_app.command("orders")(orders_cmd)
    materials_app.command("alerts")(alerts_cmd)
    app.add_typer(materials_app, name="materials")
