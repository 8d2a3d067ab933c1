"""`microfactory demo`: the whole closed loop on the embedded default (SQLite file,
in-process bus) — or on PostgreSQL and Mosquitto — with a progress bar in simulated days and
a summary (`--json` for a machine-readable one)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap, memory_bus, mqtt_bus
from microfactory.cli.common import console, print_json
from microfactory.core.errors import ValidationError
from microfactory.services.demo import DEMO_START
from microfactory.services.ports import Bus


def open_bus(kind: str, host: str, port: int) -> Bus:
    """The shop-floor bus for the loop: in-process, or MQTT through the broker."""
    if kind == "memory":
        return memory_bus()
    if kind == "mqtt":
        return mqtt_bus(host, port, f"demo-{uuid.uuid4().hex[:10]}")
    raise ValidationError(f"unknown bus {kind!r}: use memory or mqtt", where="--bus")


def run_demo(
    container: Container,
    *,
    days: float,
    seed: int,
    bus: str,
    factory_file: Path,
    preventive: bool = True,
    predictive: bool = True,
    planner: str = "dispatch",
    plan_seconds: float = 2.0,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    root: str | None = None,
    show_progress: bool = False,
    disruptions: tuple[tuple[str, datetime, float], ...] = (),
    start: datetime = DEMO_START,
    realtime_factor: float | None = None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> dict[str, Any]:
    """Reset the database, run the loop, store and return the summary."""
    from microfactory.services.closed_loop import ClosedLoop, LoopConfig, summary_dict
    from microfactory.services.demo import load_demo_factory
    from microfactory.services.planning import PlanningSettings
    from microfactory.shopfloor.topics import ROOT

    if planner not in ("dispatch", "cpsat"):
        raise ValidationError(
            f"unknown planner {planner!r}: use dispatch or cpsat", where="--planner"
        )
    container.reset_database()
    fac = load_demo_factory(container.uow, factory_file, start)
    if ready is not None:
        ready.set()
    the_bus = open_bus(bus, mqtt_host, mqtt_port)
    topic_root = root or (ROOT if bus == "memory" else f"mfdemo-{uuid.uuid4().hex[:8]}")
    config = LoopConfig(start=start, days=days, seed=seed, root=topic_root, disruptions=disruptions)
    predictor = None
    if predictive:
        from microfactory.services.maintenance import PredictiveMaintenance

        predictor = PredictiveMaintenance(
            container.telemetry(), {m.id: m.type for m in fac.machines}
        )
    settings = PlanningSettings(
        strategy="cpsat" if planner == "cpsat" else "dispatch",
        time_limit=plan_seconds,
        workers=2,
    )
    ports = container.loop_ports(
        fac,
        the_bus,
        bus,
        planning=settings,
        start=start,
        preventive=preventive,
        predictor=predictor,
    )
    loop = ClosedLoop(
        ports,
        fac,
        config,
        predictor_name="none" if predictor is None else type(predictor).__name__,
    )
    try:
        with Progress(
            TextColumn("[bold]simulated days"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not show_progress,
            transient=True,
        ) as progress:
            total = int(days) if float(days).is_integer() else int(days) + 1
            task = progress.add_task("days", total=total)
            run = loop.run(
                progress=lambda d: progress.update(task, completed=d),
                realtime_factor=realtime_factor,
                stop=stop,
            )
    finally:
        the_bus.close()
    summary = summary_dict(run, config, bus)
    container.execution_records().save_run(seed, days, start, bus, summary)
    return summary


def demo_database(db: str | None) -> str:
    """The demo's database URL, announced: `--db`, else the default database, which the demo
    resets only when it holds no orders other than a demo run's."""
    from microfactory.cli.common import err_console
    from microfactory.cli.database import announce, describe, resolve_db

    url = resolve_db(db)
    if db is None:
        _refuse_to_reset_own_data(url, describe(url))
    announce(url, db is not None, err_console)
    return url


def _refuse_to_reset_own_data(url: str, name: str) -> None:
    from microfactory.services.orders import list_orders

    container = bootstrap(db_url=url)  # migrated first: the demo resets it anyway
    try:
        if container.execution_records().latest_run() is not None:
            return
        if list_orders(container.uow, limit=1):
            raise ValidationError(
                f"the default database {name} holds orders of your own and the demo would "
                "reset it; give the demo its own file, e.g. --db demo.db",
                where="--db",
            )
    finally:
        container.close()


def demo_cmd(
    days: Annotated[int, typer.Option(min=1, max=365, help="Simulated days")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same history")] = 7,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database (file path or URL; it is reset for the demo); default: the one "
            "default database of every command, unless it holds orders of your own",
        ),
    ] = None,
    bus: Annotated[str, typer.Option("--bus", help="Shop-floor bus: memory or mqtt")] = "memory",
    factory: Annotated[Path, typer.Option("--factory", help="Factory YAML")] = DEMO_FACTORY,
    no_pm: Annotated[
        bool, typer.Option("--no-pm", help="Run without preventive maintenance")
    ] = False,
    no_pdm: Annotated[
        bool, typer.Option("--no-pdm", help="Run without predictive maintenance")
    ] = False,
    planner: Annotated[
        str,
        typer.Option(
            "--planner",
            help="dispatch: the planning model by dispatching rules (fast, reproducible); "
            "cpsat: the planning service with CP-SAT (better plans, not bit-reproducible)",
        ),
    ] = "dispatch",
    plan_seconds: Annotated[
        float, typer.Option(min=0.1, help="CP-SAT time per planning run (--planner cpsat)")
    ] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the dashboard up on the result")
    ] = False,
    host: Annotated[str, typer.Option(help="Dashboard address (with --serve)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Dashboard port (with --serve)")] = 8000,
    live: Annotated[
        float | None,
        typer.Option(
            "--live",
            min=1.0,
            help="With --serve: run the loop live at this speed-up (60 = a minute a second) "
            "while the dashboard is up",
        ),
    ] = None,
) -> None:
    """The closed loop: orders → plan → digital twin over the bus → ingestion → OEE, TPM,
    replans on breakdowns, maintenance windows and rush orders → summary."""
    if bus not in ("memory", "mqtt"):
        raise ValidationError(f"unknown bus {bus!r}: use memory or mqtt", where="--bus")
    db = demo_database(db)
    if live is not None:
        if not serve:
            raise ValidationError("--live needs --serve", where="--live")
        serve_live(db, days, seed, bus, factory, live, host, port)
        return
    container = bootstrap(db_url=db, migrate=False)
    try:
        summary = run_demo(
            container,
            days=days,
            seed=seed,
            bus=bus,
            factory_file=factory,
            preventive=not no_pm,
            predictive=not no_pdm,
            planner=planner,
            plan_seconds=plan_seconds,
            mqtt_host=container.settings.mqtt_host,
            mqtt_port=container.settings.mqtt_port,
            show_progress=not as_json,
        )
        if as_json:
            print_json(summary)
        else:
            render(summary)
        if serve:
            from microfactory.cli.serve import serve_dashboard

            serve_dashboard(container, host, port)
    finally:
        container.close()


def serve_live(
    db: str, days: int, seed: int, bus: str, factory: Path, factor: float, host: str, port: int
) -> None:
    """The loop in scaled real time on a worker thread, the dashboard in front."""
    from microfactory.cli.serve import serve_dashboard

    loop_container = bootstrap(db_url=db, migrate=False)
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            run_demo(
                loop_container,
                days=days,
                seed=seed,
                bus=bus,
                factory_file=factory,
                realtime_factor=factor,
                stop=stop,
                ready=ready,
            )
        except BaseException as exc:  # reported after the dashboard stops
            failure.append(exc)
            ready.set()

    worker = threading.Thread(target=work, name="closed-loop", daemon=True)
    worker.start()
    ready.wait(120.0)
    web = bootstrap(db_url=db, migrate=False)
    try:
        console.print(f"closed loop running live at x{factor:g} ({days} simulated days)")
        serve_dashboard(web, host, port)
    finally:
        stop.set()
        worker.join(30.0)
        web.close()
        loop_container.close()
    if failure:
        raise failure[0]


def render(summary: dict[str, Any]) -> None:
    table = Table(title=f"microfactory demo — {summary['days']} days, seed {summary['seed']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rate = summary["on_time_rate"]
    rows = [
        ("orders received", summary["orders_received"]),
        ("orders completed", summary["orders_completed"]),
        ("orders late", summary["orders_late"]),
        ("on-time delivery", "–" if rate is None else f"{rate:.1%}"),
        (
            "machine hours idle while late work waited",
            f"{summary['idle_while_late']['hours']:.1f}",
        ),
        ("OEE (fleet)", f"{summary['oee']['oee']:.1%}"),
        ("events ingested", f"{summary['events_ingested']:,}"),
        ("sensor samples stored", f"{summary['samples_stored']:,}"),
        ("breakdowns", summary["breakdowns"]),
        ("preventive maintenance done", summary["preventive_maintenance_done"]),
        ("replans (breakdown, repair, rush, maintenance)", summary["replans"]),
        ("quality alerts / NCRs", f"{summary['quality_alerts']} / {summary['nonconformances']}"),
        (
            "predicted / caught / false alarms",
            f"{summary['predicted_failures']} / {summary['caught_failures']} / "
            f"{summary['false_alarms']}",
        ),
        ("wall seconds", summary["wall_seconds"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    machines = Table(title="machines (ISO 22400)")
    for col in ("machine", "OEE", "availability", "performance", "quality", "breakdowns"):
        machines.add_column(col, justify="right" if col != "machine" else "left")
    machines.add_column("MTBF h", justify="right")
    machines.add_column("MTTR h", justify="right")
    for m in summary["machines"]:
        machines.add_row(
            m["id"],
            *(_percent(m[k]) for k in ("oee", "availability", "performance", "quality")),
            str(m["breakdowns"]),
            "–" if m["mtbf_h"] is None else f"{m['mtbf_h']:.0f}",
            "–" if m["mttr_h"] is None else f"{m['mttr_h']:.1f}",
        )
    console.print(machines)
    pareto = Table(title="downtime Pareto")
    for col in ("reason", "events", "minutes", "cumulative"):
        pareto.add_column(col, justify="left" if col == "reason" else "right")
    for row in summary["downtime_pareto"]:
        pareto.add_row(
            str(row["reason"]),
            str(row["events"]),
            f"{row['minutes']:.0f}",
            f"{row['cumulative']:.0%}",
        )
    console.print(pareto)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("demo")(demo_cmd)


def _percent(value: float | None) -> str:
    """A ratio as a percentage; "–" where it is undefined (no planned production time)."""
    return "–" if value is None else f"{value:.1%}"
