"""Shop-floor connectivity commands: `ingest`, `machines status`, `telemetry retain`,
`opcua-sim` and `bench ingest`.

`ingest` wires a bus adapter (MQTT or OPC UA), the SQL telemetry store and the ingestion service
and runs until SIGTERM / SIGINT, then commits and acknowledges what it holds and exits 0.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from microfactory.cli.common import DB_HELP, console, err_console, open_container, print_json
from microfactory.core.clock import SystemClock
from microfactory.core.errors import ValidationError

if TYPE_CHECKING:
    from microfactory.bootstrap import Container
    from microfactory.connect.bus import Bus
    from microfactory.services.ingestion import Ingester
    from microfactory.services.runtime import ShopRuntime

machines_app = typer.Typer(help="Machines as the event store sees them.", no_args_is_help=True)
telemetry_app = typer.Typer(help="Telemetry storage.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]


def parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError(f"broker must be HOST:PORT, got {text!r}", where="--broker")
    return host, int(port)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def ingest_cmd(
    via: Annotated[str, typer.Option("--via", help="mqtt or opcua")] = "mqtt",
    db: DbOpt = None,
    broker: Annotated[str, typer.Option("--broker", help="MQTT HOST:PORT")] = "127.0.0.1:1883",
    client_id: Annotated[
        str, typer.Option("--client-id", help="Stable MQTT client id (keeps the session)")
    ] = "microfactory-ingest",
    root: Annotated[str, typer.Option("--root", help="Topic root")] = "microfactory",
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="OPC UA endpoint (with --via opcua)")
    ] = "opc.tcp://127.0.0.1:4840/microfactory/",
    site: Annotated[str, typer.Option("--site", help="Site for OPC UA topics")] = "demo",
    area: Annotated[str, typer.Option("--area", help="Area for OPC UA topics")] = "shop",
    machines: Annotated[
        str | None,
        typer.Option(
            "--machines",
            help="Known machine ids, comma-separated "
            "(default: the factory's machines; all if none are loaded)",
        ),
    ] = None,
    max_batch: Annotated[int, typer.Option("--max-batch")] = 2000,
    max_delay_ms: Annotated[float, typer.Option("--max-delay-ms")] = 50.0,
    report_s: Annotated[float, typer.Option("--report-s", help="Seconds between reports")] = 10.0,
    session_expiry_s: Annotated[
        int, typer.Option("--session-expiry-s", help="How long the broker keeps the session")
    ] = 7 * 24 * 3600,
    store_only: Annotated[
        bool,
        typer.Option(
            "--store-only",
            help="Only store the events (a pure telemetry ingester); by default they are also "
            "applied to the shop (operations, TPM, quality, replans)",
        ),
    ] = False,
) -> None:
    """The shop-floor runtime: consume machine events into the database and apply them (the
    reactor), until SIGTERM (or Ctrl-C); then print the counters as JSON."""
    from microfactory.services.ingestion import Ingester, IngestSettings
    from microfactory.store.telemetry_tables import SqlTelemetryStore

    if via not in ("mqtt", "opcua"):
        raise ValidationError("must be mqtt or opcua", where="--via")
    host, port = parse_broker(broker)
    container = open_container(db)
    store = SqlTelemetryStore(container.engine)
    known = _split(machines)
    if known is None:
        known = store.known_machine_ids() or None
    ingester = Ingester(
        store,
        clock=SystemClock(),
        known_machines=known,
        settings=IngestSettings(max_batch=max_batch, max_delay_s=max_delay_ms / 1000, root=root),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if via == "mqtt":
        from microfactory.connect.mqtt import MqttBus, MqttSettings

        bus: Bus = MqttBus(
            MqttSettings(
                host=host, port=port, client_id=client_id, session_expiry_s=session_expiry_s
            )
        )
    else:
        import logging

        from microfactory.connect.opcua import OpcUaBus, OpcUaSettings

        logging.getLogger("asyncua").setLevel(logging.ERROR)  # its notices are not for users

        first = {s.machine: s.last_seq + 1 for s in ingester.statuses()}
        bus = OpcUaBus(
            OpcUaSettings(endpoint=endpoint, site=site, area=area, root=root, first_seq=first)
        )
    runtime, mode = _runtime(container, ingester, store_only)
    runtime.start()
    ingester.attach(bus)
    err_console.print(f"ingesting via {via} into {container.settings.database_url} ({mode})")
    last = time.monotonic()
    try:
        while not stop.wait(0.2):
            if ingester.error is not None:
                raise ingester.error
            if time.monotonic() - last >= report_s:
                last = time.monotonic()
                err_console.print(json.dumps({**runtime.as_dict(), "queued": ingester.queued}))
    finally:
        bus.close()
        runtime.stop(30.0)
        container.close()
    sys.stdout.write(json.dumps({"stopped": True, **runtime.as_dict()}) + "\n")
    sys.stdout.flush()


def _runtime(container: Container, ingester: Ingester, store_only: bool) -> tuple[ShopRuntime, str]:
    """The ingester alone (--store-only, or no factory loaded yet), or with the reactor and
    the planning service; and what it does, in words."""
    from microfactory.services.runtime import ShopRuntime

    if store_only:
        return ShopRuntime(ingester, None, None), "storing only"
    with container.uow() as tx:
        factory = tx.factory.current()
    if factory is None:
        mode = "storing only: no factory loaded yet, see microfactory init"
        return ShopRuntime(ingester, None, None), mode
    runtime = ShopRuntime(ingester, container.reactor(factory), container.planning())
    return runtime, "storing and applying"


def machines_status_cmd(
    db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Current state, mode, reason, part counts and lost data (sequence gaps) per machine."""
    from microfactory.services.ingestion import machine_status_report
    from microfactory.store.telemetry_tables import SqlTelemetryStore

    container = open_container(db)
    try:
        report = machine_status_report(SqlTelemetryStore(container.engine))
    finally:
        container.close()
    if as_json:
        print_json(report)
        return
    from rich.table import Table

    table = Table(title="machines")
    for col in (
        "machine",
        "state",
        "mode",
        "reason",
        "since",
        "good",
        "reject",
        "last seq",
        "missing",
    ):
        table.add_column(col)
    for m in report["machines"]:
        table.add_row(
            m["machine"],
            m["state"],
            m["mode"],
            m["reason"] or "",
            m["since"] or "",
            str(m["good"]),
            str(m["reject"]),
            str(m["last_seq"]),
            str(m["missing"]),
        )
    console.print(table)


def retain_cmd(
    keep_days: Annotated[float, typer.Option("--keep-days", help="Keep this many days")],
    db: DbOpt = None,
) -> None:
    """Delete samples, events and dead letters older than --keep-days."""
    from microfactory.services.ingestion import apply_retention
    from microfactory.store.telemetry_tables import SqlTelemetryStore

    if keep_days < 0:
        raise ValidationError("must not be negative", where="--keep-days")
    container = open_container(db)
    try:
        result = apply_retention(
            SqlTelemetryStore(container.engine), SystemClock(), timedelta(days=keep_days)
        )
    finally:
        container.close()
    print_json(result)


def opcua_sim_cmd(
    endpoint: Annotated[str, typer.Option("--endpoint")] = "opc.tcp://127.0.0.1:4840/microfactory/",
    machines: Annotated[str, typer.Option("--machines", help="Comma-separated ids")] = "m1,m2",
    seconds: Annotated[float, typer.Option("--seconds", help="Run this long (0: forever)")] = 0,
) -> None:
    """Serve simulated machines over OPC UA (a state cycle, parts and two process values)."""
    from microfactory.cli.ingest_bench import run_opcua_demo

    names = _split(machines) or []
    if not names:
        raise ValidationError("give at least one machine", where="--machines")
    run_opcua_demo(endpoint, names, seconds)


def bench_ingest_cmd(
    messages: Annotated[int, typer.Option("--messages", help="Messages (10 samples each)")] = 20000,
    via: Annotated[str, typer.Option("--via", help="memory or mqtt")] = "memory",
    store: Annotated[str, typer.Option("--store", help="sqlite or postgresql")] = "sqlite",
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="PostgreSQL admin URL for --store postgresql (a scratch database is made)"
        ),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="HOST:PORT of a running broker (default: start a private Mosquitto "
            "with deploy/mosquitto/microfactory.conf)",
        ),
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", help="Publish rate msg/s (0: as fast as flow control allows)")
    ] = 0.0,
    references: Annotated[
        bool,
        typer.Option(
            "--references/--no-references", help="Also run the naive consumer and mosquitto_sub"
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ingestion throughput, loss, duplicates and publish→queryable p99 latency."""
    from microfactory.cli.ingest_bench import run_bench

    if via not in ("memory", "mqtt"):
        raise ValidationError("must be memory or mqtt", where="--via")
    if store not in ("sqlite", "postgresql"):
        raise ValidationError("must be sqlite or postgresql", where="--store")
    if messages < 1:
        raise ValidationError("must be at least 1", where="--messages")
    result = run_bench(
        messages=messages,
        via=via,
        store=store,
        pg_admin_url=db,
        broker=None if broker is None else parse_broker(broker),
        rate=rate,
        references=references,
    )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        console.print(result)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("opcua-sim")(opcua_sim_cmd)
    machines_app.command("status")(machines_status_cmd)
    telemetry_app.command("retain")(retain_cmd)
    app.add_typer(machines_app, name="machines")
    app.add_typer(telemetry_app, name="telemetry")
    bench.command("ingest")(bench_ingest_cmd)
