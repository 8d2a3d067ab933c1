"""`microfactory demo`: the main job on the embedded default."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.common import console, print_json
from microfactory.services.demo import (
    generate_demo_orders,
    load_demo_factory,
    order_status_counts,
    take_orders,
)
from microfactory.store.migrate import reset_database

DEMO_DB = "sqlite:///microfactory-demo.db"
DEMO_START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def demo_cmd(
    days: Annotated[int, typer.Option(min=1, max=365, help="Simulated days")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same history")] = 7,
    db: Annotated[
        str, typer.Option("--db", help="Database URL; it is reset for the demo")
    ] = DEMO_DB,
    factory: Annotated[Path, typer.Option("--factory", help="Factory YAML")] = DEMO_FACTORY,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Build the demo factory, feed it a seeded stream of orders and print a summary."""
    started = time.perf_counter()
    container = bootstrap(db_url=db, migrate=False)
    try:
        reset_database(container.engine)
        from microfactory.store.migrate import upgrade

        upgrade(container.engine)
        fac = load_demo_factory(container.uow, factory)
        generated = generate_demo_orders(fac, DEMO_START, days, seed)
        with Progress(
            TextColumn("[bold]taking orders"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=as_json,
            transient=True,
        ) as progress:
            task = progress.add_task("orders", total=len(generated))
            intake = take_orders(
                container.uow, generated, progress=lambda n: progress.update(task, completed=n)
            )
        statuses = order_status_counts(container.uow)
    finally:
        container.close()
    summary = {
        "days": days,
        "seed": seed,
        "database": db,
        "machines": [{"id": m.id, "type": m.type} for m in fac.machines],
        "orders_received": intake.orders,
        "order_lines": intake.order_lines,
        "work_orders": intake.work_orders,
        "operations": intake.operations,
        "work_hours": intake.work_hours,
        "order_status": statuses,
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"microfactory demo — {fac.site.name}, {days} days, seed {seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("orders_received", "order_lines", "work_orders", "operations", "work_hours"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    table.add_row("machines", str(len(fac.machines)))
    table.add_row("wall seconds", str(summary["wall_seconds"]))
    console.print(table)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
