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

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.cli.common import console, print_json
from microfactory.cli.database import DB_HELP
from microfactory.cli.demo import run_demo
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339, to_rfc3339


def stored_run(db: str | None) -> tuple[int, datetime, float]:
    """Seed, start and days of the latest demo run stored in `db` (the default database when
    None). A database without a demo run is refused: whatif replays a stored run and never
    silently simulates the built-in demo in its place."""
    from microfactory.cli.common import open_container
    from microfactory.cli.database import describe, resolve_db

    container = open_container(db)
    try:
        latest = container.execution_records().latest_run()
    finally:
        container.close()
    if latest is None:
        raise ValidationError(
            f"{describe(resolve_db(db))} holds no demo run to replay; whatif compares a stored "
            "`microfactory demo` run with and without the failure (run the demo on it first)",
            where="--db",
        )
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
    show_progress: bool = False,
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
                        show_progress=show_progress,
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
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """What if a machine fails at a given time? Replays the stored run with the failure and
    compares on-time delivery."""
    when = parse_rfc3339(at)
    seed, start, days = stored_run(db)
    result = what_if(
        machine_down,
        when,
        hours,
        seed=seed,
        start=start,
        days=days,
        after_days=after_days,
        show_progress=not as_json,
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
        str | None,
        typer.Option(
            help="From (RFC 3339); default: the stored demo run's start, or 7 days before "
            "the latest machine event"
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="To (RFC 3339); default: the latest machine event")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """OEE (ISO 22400) from the stored machine events: per machine, day or shift."""
    from microfactory.cli.common import open_container
    from microfactory.services.factory import current_factory
    from microfactory.services.loop_summary import oee_report

    if by not in ("machine", "day", "shift"):
        raise ValidationError(f"--by {by!r}: use machine, day or shift", where="--by")
    container = open_container(db)
    try:
        lo, hi = _window(container, start, end)
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
                "no data" if row[c] is None else f"{row[c]:.1%}"
                for c in ("oee", "availability", "performance", "quality")
            ),
        )
    console.print(table)


OEE_RECENT_DAYS = 7


def _window(container: Container, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The OEE window: as given, else the data's own recent window (the stored demo run when
    it covers the latest machine event, else the last 7 days up to that event)."""
    latest = max(
        (s.last_event for s in container.telemetry().machine_statuses() if s.last_event),
        default=None,
    )
    run = container.execution_records().latest_run()
    if latest is None and run is None and not (start and end):
        raise ValidationError(
            "no machine events stored yet; run `microfactory ingest` or the demo, or give "
            "--start and --end",
            where="oee",
        )
    if run is not None and (latest is None or latest <= run[2] + timedelta(days=run[3])):
        lo_default, hi_default = run[2], run[2] + timedelta(days=run[3])
    else:
        assert latest is not None
        hi_default = latest + timedelta(seconds=1)
        lo_default = hi_default - timedelta(days=OEE_RECENT_DAYS)
    lo = parse_rfc3339(start) if start else lo_default
    hi = parse_rfc3339(end) if end else hi_default
    if hi <= lo:
        raise ValidationError("--end must be after --start", where="--end")
    return lo, hi


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("whatif")(whatif_cmd)
    app.command("oee")(oee_cmd)
