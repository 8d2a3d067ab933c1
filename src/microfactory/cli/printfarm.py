"""Print-farm commands: `printers status|plate-clear|load|set|slices` and `run`, the shop-floor
runtime (printer hosts, slicing, dispatch, the ingester) until SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from microfactory.cli.common import DB_HELP, console, err_console, open_container, print_json
from microfactory.core.errors import ValidationError

if TYPE_CHECKING:
    from microfactory.bootstrap import Container
    from microfactory.printfarm_bootstrap import PrintFarmParts

printers_app = typer.Typer(help="The print farm's printers.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: $USER), recorded with the change")
]


def _by(by: str | None) -> str:
    return (by or os.environ.get("USER") or "operator")[:64]


def _parts(container: Container, **kw: Any) -> PrintFarmParts:
    from microfactory.printfarm_bootstrap import build_print_farm

    return build_print_farm(container, hosts=lambda m: "not needed here", **kw)


def status_cmd(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each printer as the runtime last saw it: state, job, progress, plate, spool, why idle."""
    container = open_container(db)
    try:
        rows = _parts(container).farm.desk.report()
    finally:
        container.close()
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title="printers")
    for col in ("machine", "state", "job", "progress", "left", "plate", "spool", "message"):
        table.add_column(col)
    for r in rows:
        spool = "" if r["material"] is None else f"{r['material']} {r['remaining_g']:g} g"
        table.add_row(
            r["machine"],
            r["state"],
            r["job"] or "",
            "" if r["progress"] is None else f"{r['progress']:.0f} %",
            "" if r["time_left_s"] is None else f"{r['time_left_s'] // 60} min",
            "clear" if r["plate_clear"] else "not clear",
            spool,
            r["message"],
        )
    console.print(table)


def plate_clear_cmd(
    machine: Annotated[str, typer.Argument(help="The printer")], db: DbOpt = None, by: ByOpt = None
) -> None:
    """Confirm the printer's build plate is clear: it may take the next job."""
    container = open_container(db)
    try:
        record = _parts(container).farm.desk.plate_clear(machine, _by(by))
    finally:
        container.close()
    err_console.print(f"{machine}: {record.message}")


def load_cmd(
    machine: Annotated[str, typer.Argument(help="The printer")],
    material: Annotated[str, typer.Option("--material", help="A material of the factory")],
    lot: Annotated[str | None, typer.Option("--lot", help="The spool's material lot")] = None,
    grams: Annotated[
        float | None, typer.Option("--grams", help="Filament on the spool (default 1000)")
    ] = None,
    db: DbOpt = None,
    by: ByOpt = None,
) -> None:
    """Load a spool on a printer (material, lot, grams); the plan may route work to it again."""
    container = open_container(db)
    try:
        record = _parts(container).farm.desk.load_spool(
            machine, material, lot=lot, grams=grams, by=_by(by)
        )
    finally:
        container.close()
    err_console.print(f"{machine}: {record.message}")


def set_cmd(
    machine: Annotated[str, typer.Argument(help="The printer")],
    nozzle: Annotated[
        float | None, typer.Option("--nozzle", help="Nozzle diameter fitted, mm")
    ] = None,
    plate_clearing: Annotated[
        str | None,
        typer.Option("--plate-clearing", help="operator, or gcode (the printer clears its bed)"),
    ] = None,
    retry_limit: Annotated[
        int | None, typer.Option("--retry-limit", help="Retries of a failed print here")
    ] = None,
    db: DbOpt = None,
    by: ByOpt = None,
) -> None:
    """Change a printer's settings."""
    from microfactory.shopfloor.printers import PlateClearing

    clearing = None
    if plate_clearing is not None:
        try:
            clearing = PlateClearing(plate_clearing)
        except ValueError:
            raise ValidationError("use operator or gcode", where="--plate-clearing") from None
    container = open_container(db)
    try:
        record = _parts(container).farm.desk.configure(
            machine, by=_by(by), nozzle_mm=nozzle, plate_clearing=clearing, retry_limit=retry_limit
        )
    finally:
        container.close()
    err_console.print(
        f"{machine}: nozzle {record.nozzle_mm} mm, plate cleared by {record.plate_clearing}, "
        f"retry limit {record.retry_limit}"
    )


def slices_cmd(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Slices made, with the slicer's time and filament against the quote's (a quoting KPI)."""
    container = open_container(db)
    try:
        with _parts(container).store.transaction() as tx:
            slices = tx.slices()
    finally:
        container.close()
    rows = [
        {
            "key": s.key,
            "quote": s.quote_id,
            "profile": s.profile,
            "copies": s.copies,
            "ok": s.ok,
            "error": s.error or None,
            "slicer_time_s": s.print_time_s,
            "quote_time_s": None if s.quote_time_s is None else round(s.quote_time_s, 1),
            "time_variance": None if s.time_variance is None else round(s.time_variance, 4),
            "slicer_filament_g": s.filament_g,
            "quote_filament_g": None
            if s.quote_filament_g is None
            else round(s.quote_filament_g, 2),
            "filament_variance": None
            if s.filament_variance is None
            else round(s.filament_variance, 4),
            "slicing_s": s.seconds,
        }
        for s in slices
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(r)


def run_cmd(
    db: DbOpt = None,
    bus_kind: Annotated[str, typer.Option("--bus", help="memory or mqtt")] = "memory",
    broker: Annotated[str, typer.Option("--broker", help="MQTT HOST:PORT")] = "127.0.0.1:1883",
    client_id: Annotated[
        str, typer.Option("--client-id", help="MQTT client id")
    ] = "microfactory-run",
    root: Annotated[str, typer.Option("--root", help="Topic root")] = "microfactory",
    ingest: Annotated[
        bool,
        typer.Option(
            "--ingest/--no-ingest",
            help="Also store the events (leave off when a separate `ingest` does it)",
        ),
    ] = True,
    poll_s: Annotated[float, typer.Option("--poll-s", help="Seconds between host polls")] = 1.0,
    gcode_cache: Annotated[
        Path | None,
        typer.Option("--gcode-cache", help="G-code cache directory (default ~/.cache/...)"),
    ] = None,
    cache_entries: Annotated[int, typer.Option("--cache-entries")] = 200,
    plan_time_limit: Annotated[
        float, typer.Option("--plan-time-limit", help="Solver seconds per replan")
    ] = 5.0,
    report_s: Annotated[float, typer.Option("--report-s", help="Seconds between reports")] = 30.0,
) -> None:
    """The shop-floor runtime until SIGTERM: printer hosts, slicing ahead of the plan, dispatch,
    and the event path (ingester, reactor, replans); prints its counters as JSON on exit."""
    from microfactory.cli.connect import parse_broker
    from microfactory.printfarm_bootstrap import ShopFloorOptions, ShopFloorRun

    options = ShopFloorOptions(
        bus=bus_kind,
        broker=parse_broker(broker) if bus_kind == "mqtt" else ("127.0.0.1", 1883),
        client_id=client_id,
        root=root,
        ingest=ingest,
        poll_s=poll_s,
        gcode_cache=gcode_cache,
        cache_entries=cache_entries,
        plan_time_limit=plan_time_limit,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    container = open_container(db)
    run = ShopFloorRun(container, options)
    try:
        parts = run.start()
        for why in sorted(parts.skipped.values()):
            err_console.print(f"[yellow]left out[/yellow] {why}")
        err_console.print(
            f"print farm running: {len(parts.hosts)} printer(s) "
            f"({', '.join(sorted(parts.hosts)) or 'none'}) on {container.settings.database_url}"
        )
        last = time.monotonic()
        while not stop.wait(0.2):
            run.check()
            if time.monotonic() - last >= report_s:
                last = time.monotonic()
                err_console.print(json.dumps(run.counters()))
    finally:
        run.stop()
        container.close()
    sys.stdout.write(json.dumps({"stopped": True, **run.counters()}) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer, bench: typer.Typer) -> None:
    printers_app.command("status")(status_cmd)
    printers_app.command("plate-clear")(plate_clear_cmd)
    printers_app.command("load")(load_cmd)
    printers_app.command("set")(set_cmd)
    printers_app.command("slices")(slices_cmd)
    app.add_typer(printers_app, name="printers")
    app.command("run")(run_cmd)
