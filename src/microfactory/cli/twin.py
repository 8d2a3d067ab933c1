"""`microfactory whatif --machine-down M --at T`: replay the stored demo run (same seed, so
the same history up to T) twice in scratch databases — as it happened and with machine M
down at T — and compare on-time delivery, OEE and replans."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.common import console, print_json
from microfactory.cli.demo import DEMO_DB, DEMO_START, run_demo
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339, to_rfc3339


def stored_run(db: str) -> tuple[int, datetime, float]:
    """Seed, start and days of the latest demo run stored in `db` (defaults when none)."""
    container = bootstrap(db_url=db)
    try:
        latest = container.execution_records().latest_run()
    finally:
        container.close()
    if latest is None:
        return 7, DEMO_START, 30.0
    _, _, start, days, seed = latest
    return seed, start, days


def what_if(
    machine: str,
    at: datetime,
    hours: float,
    *,
    seed: int,
    start: datetime,
    days: float,
    after_days: float,
    factory_file: Path = DEMO_FACTORY,
) -> dict[str, Any]:
    """Run the loop from `start` to `at + after_days` twice and compare."""
    from microfactory.bootstrap import read_factory_file
    from microfactory.services.closed_loop import compare

    if machine not in read_factory_file(factory_file).machine_map:
        raise ValidationError(f"unknown machine {machine!r}", where="--machine-down")
    if not start <= at < start + timedelta(days=days):
        raise ValidationError(
            f"--at must fall inside the stored run ({to_rfc3339(start)} + {days:g} days)",
            where="--at",
        )
    horizon = (at - start).total_seconds() / 86400.0 + after_days
    summaries: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mf-whatif-") as tmp:
        for name, disruptions in (("baseline", ()), ("disrupted", ((machine, at, hours),))):
            container = bootstrap(db_url=f"sqlite:///{Path(tmp) / name}.db", migrate=False)
            try:
                summaries.append(
                    run_demo(
                        container,
                        days=horizon,
                        seed=seed,
                        bus="memory",
                        factory_file=factory_file,
                        disruptions=disruptions,
                        start=start,
                    )
                )
            finally:
                container.close()
    result = compare(summaries[0], summaries[1])
    result.update(
        {
            "machine": machine,
            "at": to_rfc3339(at),
            "hours": hours,
            "seed": seed,
            "simulated_days": round(horizon, 3),
        }
    )
    return result


def whatif_cmd(
    machine_down: Annotated[str, typer.Option("--machine-down", help="Machine that fails")],
    at: Annotated[str, typer.Option("--at", help="When it fails (RFC 3339, UTC)")],
    hours: Annotated[float, typer.Option(min=0.1, help="How long it stays down")] = 8.0,
    after_days: Annotated[
        float, typer.Option("--after-days", min=0.5, help="Days simulated after the failure")
    ] = 3.0,
    db: Annotated[str, typer.Option("--db", help="Database with the stored demo run")] = DEMO_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """What if a machine fails at a given time? Replays the stored run with the failure and
    compares on-time delivery."""
    when = parse_rfc3339(at)
    seed, start, days = stored_run(db)
    result = what_if(
        machine_down, when, hours, seed=seed, start=start, days=days, after_days=after_days
    )
    if as_json:
        print_json(result)
        return
    table = Table(title=f"what if {machine_down} is down {hours:g} h from {at}")
    table.add_column("figure")
    table.add_column("as it happened", justify="right")
    table.add_column("with the failure", justify="right")
    for key in ("on_time_rate", "orders_late", "orders_completed", "oee", "breakdowns", "replans"):
        row = result[key]
        table.add_row(key.replace("_", " "), str(row["baseline"]), str(row["disrupted"]))
    console.print(table)


def oee_cmd(
    by: Annotated[str, typer.Option("--by", help="machine, day or shift")] = "machine",
    start: Annotated[
        str | None, typer.Option(help="From (RFC 3339); default: the stored run's start")
    ] = None,
    end: Annotated[str | None, typer.Option(help="To (RFC 3339); default: the run's end")] = None,
    db: Annotated[str, typer.Option("--db", help="Database with the machine events")] = DEMO_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """OEE (ISO 22400) from the stored machine events: per machine, day or shift."""
    from microfactory.services.factory import current_factory
    from microfactory.services.loop_summary import oee_report

    if by not in ("machine", "day", "shift"):
        raise ValidationError(f"--by {by!r}: use machine, day or shift", where="--by")
    _, run_start, days = stored_run(db)
    lo = parse_rfc3339(start) if start else run_start
    hi = parse_rfc3339(end) if end else run_start + timedelta(days=days)
    if hi <= lo:
        raise ValidationError("--end must be after --start", where="--end")
    container = bootstrap(db_url=db)
    try:
        with container.uow() as tx:
            factory = current_factory(tx)
        rows = oee_report(container.uow, container.telemetry(), factory, lo, hi, by)
    finally:
        container.close()
    if as_json:
        print_json(rows)
        return
    key = "machine" if by == "machine" else "period"
    table = Table(title=f"OEE by {by}, {to_rfc3339(lo)} – {to_rfc3339(hi)}")
    for col in (key, "OEE", "availability", "performance", "quality"):
        table.add_column(col, justify="left" if col == key else "right")
    for row in rows:
        table.add_row(
            str(row[key]),
            *(
                "–" if row[c] is None else f"{row[c]:.1%}"
                for c in ("oee", "availability", "performance", "quality")
            ),
        )
    console.print(table)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("whatif")(whatif_cmd)
    app.command("oee")(oee_cmd)
