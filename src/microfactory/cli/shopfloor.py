"""The shop floor as people run it: `ops start|finish|abort` (what an operator records at a
station, entered as an event on the one event path), `orders show`, `maintenance due`, and
`events rejected` (what the reactor could not apply, and why)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.core.timeutil import local_text, to_rfc3339
from microfactory.services.stations import OPERATION_STATUS

ops_app = typer.Typer(
    help="Record work at a station: start, finish (good / scrap), abort.", no_args_is_help=True
)
events_app = typer.Typer(help="The event store and the reactor.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
UserOpt = Annotated[
    str, typer.Option("--user", envvar="USER", help="Who records it (default: $USER)")
]
MachineOpt = Annotated[
    str | None,
    typer.Option("--machine", help="Where it runs (default: where it runs, or its plan's machine)"),
]


def _time(value: datetime | None) -> str | None:
    return None if value is None else to_rfc3339(value)


def _record(
    operation: str,
    action: str,
    user: str,
    machine: str | None,
    good: int,
    scrap: int,
    db: str | None,
    as_json: bool,
) -> None:
    from microfactory.services.factory import current_factory
    from microfactory.services.stations import StationAction

    container = open_container(db)
    try:
        with container.uow() as tx:
            factory = current_factory(tx)
        op = container.stations(factory).record(
            StationAction(operation, action, user, machine, good, scrap)  # type: ignore[arg-type]
        )
    finally:
        container.close()
    data = operation_dict(op)
    if as_json:
        print_json(data)
        return
    counts = f" ({op.good} good, {op.rejected} scrap)" if action == "finished" else ""
    typer.echo(f"{op.id} {data['status']} on {op.machine}{counts}")


def ops_start_cmd(
    operation: Annotated[str, typer.Argument(help="Operation id (e.g. SO-00001-1-10)")],
    user: UserOpt = "operator",
    machine: MachineOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An operation started (recorded as a job event with you as its source)."""
    _record(operation, "started", user, machine, 0, 0, db, as_json)


def ops_finish_cmd(
    operation: Annotated[str, typer.Argument(help="Operation id")],
    good: Annotated[int, typer.Option("--good", min=0, help="Good parts")] = 0,
    scrap: Annotated[int, typer.Option("--scrap", min=0, help="Scrapped parts")] = 0,
    user: UserOpt = "operator",
    machine: MachineOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An operation finished, with its good and scrapped parts."""
    _record(operation, "finished", user, machine, good, scrap, db, as_json)


def ops_abort_cmd(
    operation: Annotated[str, typer.Argument(help="Operation id")],
    user: UserOpt = "operator",
    machine: MachineOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A running operation was aborted (it is planned again)."""
    _record(operation, "aborted", user, machine, 0, 0, db, as_json)


def operation_dict(op: Any, planned: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    return {
        "id": op.id,
        "seq": op.seq,
        "name": op.name,
        "machine": op.machine,
        "status": OPERATION_STATUS[op.status.value],
        "planned_start": _time(planned[0]) if planned else None,
        "planned_end": _time(planned[1]) if planned else None,
        "actual_start": _time(op.actual_start),
        "actual_end": _time(op.actual_end),
        "good": op.good,
        "scrap": op.rejected,
    }


def orders_show_cmd(
    order_id: Annotated[str, typer.Argument(help="Order id")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An order with its work orders and operations: status, planned and actual times,
    good and scrap."""
    container = open_container(db)
    try:
        with container.uow() as tx:
            order = tx.orders.get(order_id)
            work_orders = tx.work_orders.find(order=order_id)
            stored = tx.plans.current_plan()
        tz = container.timezone()
    finally:
        container.close()
    planned: dict[str, tuple[datetime, datetime, str]] = {}
    if stored is not None:
        for row in stored[1]:
            planned[row["operation"]] = (row["start"], row["end"], row["machine"])
    data: dict[str, Any] = {
        "id": order.id,
        "customer": order.customer,
        "status": order.status.value,
        "due": to_rfc3339(order.due),
        "work_orders": [
            {
                "id": wo.id,
                "product": wo.product,
                "quantity": wo.quantity,
                "lot": wo.lot,
                "status": wo.status.value,
                "operations": [
                    {
                        **operation_dict(op, planned[op.id][:2] if op.id in planned else None),
                        "machine": op.machine or (planned[op.id][2] if op.id in planned else None),
                    }
                    for op in wo.operations
                ],
            }
            for wo in work_orders
        ],
    }
    if as_json:
        print_json(data)
        return
    due = local_text(order.due, tz)
    console.print(f"[bold]{order.id}[/bold] {order.customer}  {order.status.value}  due {due}")
    for wo, shown in zip(work_orders, data["work_orders"], strict=True):
        console.print(f"  {wo.id} {wo.product} x{wo.quantity}  {wo.status.value}")
        for op, view in zip(wo.operations, shown["operations"], strict=True):
            at = op.actual_end or op.actual_start or planned.get(op.id, (None,))[0]
            counts = f"  good {op.good} scrap {op.rejected}" if view["status"] == "done" else ""
            console.print(
                f"    {op.id:<18} {view['status']:<8} {view['machine'] or '':<9} "
                f"{local_text(at, tz)}{counts}",
                soft_wrap=True,
            )


def rejected_cmd(
    machine: Annotated[str | None, typer.Option("--machine", help="Only this machine")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Events the reactor could not apply, newest first, with the reason."""
    container = open_container(db)
    try:
        with container.uow() as tx:
            rows = tx.reactor.rejections(machine=machine, limit=limit)
            progress = tx.reactor.progress("shopfloor")
            last = tx.events.last_position()
        tz = container.timezone()
    finally:
        container.close()
    data = [
        {
            "event_id": r.event_id,
            "machine": r.machine,
            "kind": r.kind,
            "ts": to_rfc3339(r.ts),
            "reason": r.reason,
        }
        for r in rows
    ]
    if as_json:
        print_json(data)
        return
    console.print(
        f"reactor at event {progress.position} of {last}: {progress.applied} applied, "
        f"{progress.rejected} rejected"
    )
    for r, row in zip(data, rows, strict=True):
        when = local_text(row.ts, tz, seconds=True)
        console.print(f"  {when}  {r['machine']:<10} {r['kind']:<11} {r['reason']}")


def maintenance_due_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Maintenance per machine: open and planned work orders, and the usage counted toward
    each PM plan since it was last renewed."""
    from microfactory.maintenance.tpm import DEFAULT_PLANS, Usage, due_share, plans_for
    from microfactory.services.factory import current_factory

    container = open_container(db)
    try:
        with container.uow() as tx:
            factory = current_factory(tx)
            orders = tx.records.maintenance_orders()
            usage = {m.id: tx.usage.usage(m.id) for m in factory.machines}
            latest = max(
                (s.last_event for s in container.telemetry().machine_statuses() if s.last_event),
                default=None,
            )
    finally:
        container.close()
    out: list[dict[str, Any]] = []
    for m in factory.machines:
        mine = [o for o in orders if o["machine"] == m.id and o["status"] in ("open", "planned")]
        plans: list[dict[str, Any]] = []
        for plan in plans_for(m.type, DEFAULT_PLANS):
            u = usage[m.id].get(plan.id)
            if u is None:
                plans.append({"plan": plan.id, "trigger": plan.trigger.value, "used": 0.0})
                continue
            share = due_share(plan, Usage(m.id, u.run_hours, u.cycles, u.since), latest or u.since)
            plans.append(
                {
                    "plan": plan.id,
                    "trigger": plan.trigger.value,
                    "interval": plan.interval,
                    "run_hours": round(u.run_hours, 2),
                    "cycles": u.cycles,
                    "since": to_rfc3339(u.since),
                    "used": round(share, 3),
                }
            )
        out.append(
            {
                "machine": m.id,
                "work_orders": [
                    {
                        "id": o["id"],
                        "kind": o["kind"],
                        "status": o["status"],
                        "reason": o["reason"],
                        "window_start": _time(o["window_start"]),
                        "window_end": _time(o["window_end"]),
                    }
                    for o in mine
                ],
                "plans": plans,
            }
        )
    if as_json:
        print_json(out)
        return
    for row in out:
        worst = max((p["used"] for p in row["plans"]), default=0.0)
        console.print(f"{row['machine']:<10} {worst:>6.0%} of the next PM interval used")
        for wo in row["work_orders"]:
            console.print(f"    {wo['id']} {wo['kind']} {wo['status']} {wo['window_start'] or ''}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    ops_app.command("start")(ops_start_cmd)
    ops_app.command("finish")(ops_finish_cmd)
    ops_app.command("abort")(ops_abort_cmd)
    app.add_typer(ops_app, name="ops")
    events_app.command("rejected")(rejected_cmd)
    app.add_typer(events_app, name="events")
    from microfactory.cli.maintenance import maintenance_app
    from microfactory.cli.setup_commands import orders_app

    orders_app.command("show")(orders_show_cmd)
    maintenance_app.command("due")(maintenance_due_cmd)
