"""Shop-floor connectivity commands: `ingest`, `machines status`, `machines quarantine`,
`telemetry retain`, `opcua-sim` and `bench ingest`.

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

from microfactory.bootstrap import mqtt_bus, opcua_bus
from microfactory.cli.common import DB_HELP, console, err_console, open_container, print_json
from microfactory.core.clock import SystemClock
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339

if TYPE_CHECKING:
    from microfactory.bootstrap import Container
    from microfactory.services.ingestion import Ingester
    from microfactory.services.ports import Bus
    from microfactory.services.runtime import ShopRuntime

machines_app = typer.Typer(help="Machines as the event store sees them.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Events held for review (implausible sequence jumps): list, accept, reject."
)
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
    seq_window: Annotated[
        int,
        typer.Option(
            "--seq-window",
            help="Hold for review an event whose seq jumps more than this past its machine's "
            "last one (0: trust every jump)",
        ),
    ] = 10_000,
    max_future_s: Annotated[
        float,
        typer.Option(
            "--max-future-s",
            help="Dead-letter events (and samples) stamped further ahead of this host's clock",
        ),
    ] = 86_400.0,
    receipts: Annotated[
        bool,
        typer.Option("--receipts/--no-receipts", help="Answer senders' store-receipt requests"),
    ] = True,
) -> None:
    """The shop-floor runtime: consume machine events into the database and apply them (the
    reactor), until SIGTERM (or Ctrl-C); then print the counters as JSON."""
    from microfactory.services.ingestion import Ingester, IngestSettings

    if via not in ("mqtt", "opcua"):
        raise ValidationError("must be mqtt or opcua", where="--via")
    if seq_window < 0:
        raise ValidationError("must not be negative", where="--seq-window")
    if not max_future_s > 0:
        raise ValidationError("must be positive", where="--max-future-s")
    host, port = parse_broker(broker)
    container = open_container(db)
    store = container.telemetry()
    known = _split(machines)
    if known is None:
        known = store.known_machine_ids() or None
    ingester = Ingester(
        store,
        clock=SystemClock(),
        known_machines=known,
        settings=IngestSettings(
            max_batch=max_batch,
            max_delay_s=max_delay_ms / 1000,
            root=root,
            seq_window=seq_window or None,
            max_future=timedelta(seconds=max_future_s),
            receipts=receipts,
        ),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if via == "mqtt":
        bus: Bus = mqtt_bus(host, port, client_id, session_expiry_s=session_expiry_s)
    else:
        import logging

        logging.getLogger("asyncua").setLevel(logging.ERROR)  # its notices are not for users

        first = {s.machine: s.last_seq + 1 for s in ingester.statuses()}
        bus = opcua_bus(endpoint, site, area, root, first)
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

    container = open_container(db)
    try:
        report = machine_status_report(container.telemetry())
        from microfactory.cli.display import site_format

        site = site_format(container)
    finally:
        container.close()
    if as_json:
        print_json(report)
        return
    from rich.table import Table

    from microfactory.cli.display import local_time
    from microfactory.core import vocabulary as words

    table = Table(title="machines")
    for col in ("machine", "state", "since", "good", "reject", "missing", "held"):
        table.add_column(
            col, justify="right" if col in ("good", "reject", "missing", "held") else "left"
        )
    for m in report["machines"]:
        table.add_row(
            m["machine"],
            words.machine_state(m["state"], m["reason"]),
            local_time(parse_rfc3339(m["since"]), *site) if m["since"] else "",
            str(m["good"]),
            str(m["reject"]),
            str(m["missing"]),
            str(m["quarantined"]),
        )
    console.print(table)


StatusOpt = Annotated[
    str,
    typer.Option("--status", help="pending, accepted, applied, rejected or all"),
]


@quarantine_app.callback(invoke_without_command=True)
def quarantine_cmd(
    ctx: typer.Context,
    db: DbOpt = None,
    status: StatusOpt = "pending",
    machine: Annotated[str | None, typer.Option("--machine")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Events held for review: their sequence number jumped implausibly far (pending by
    default). `accept ID...` has the ingester apply them, `reject ID...` keeps them out."""
    if ctx.invoked_subcommand is not None:
        return
    from microfactory.services.quarantine import quarantine_report

    container = open_container(db)
    try:
        report = quarantine_report(
            container.telemetry(),
            status=None if status == "all" else status,
            machine=machine,
        )
    finally:
        container.close()
    if as_json:
        print_json(report)
        return
    from rich.table import Table

    table = Table(title=f"held for review ({status})")
    for col in ("id", "status", "machine", "kind", "seq", "ts", "reason"):
        table.add_column(col)
    for q in report["quarantined"]:
        table.add_row(
            str(q["id"]), q["status"], q["machine"], q["kind"], str(q["seq"]), q["ts"], q["reason"]
        )
    console.print(table)


def _decide(ids: list[int], db: str | None, *, accept: bool) -> None:
    from microfactory.services.quarantine import decide_quarantined

    container = open_container(db)
    try:
        result = decide_quarantined(container.telemetry(), SystemClock(), ids, accept=accept)
    finally:
        container.close()
    print_json(result)


IdsArg = Annotated[list[int], typer.Argument(help="Held event ids (see `machines quarantine`)")]


@quarantine_app.command("accept")
def quarantine_accept_cmd(ids: IdsArg, db: DbOpt = None) -> None:
    """Trust these held events: the ingester applies them (and the held events of the same
    machine that are then within the window)."""
    _decide(ids, db, accept=True)


@quarantine_app.command("reject")
def quarantine_reject_cmd(ids: IdsArg, db: DbOpt = None) -> None:
    """Keep these held events out of the event store for good (they stay listed)."""
    _decide(ids, db, accept=False)


def retain_cmd(
    keep_days: Annotated[float, typer.Option("--keep-days", help="Keep this many days")],
    db: DbOpt = None,
) -> None:
    """Delete samples, events and dead letters older than --keep-days."""
    from microfactory.services.ingestion import apply_retention

    if keep_days < 0:
        raise ValidationError("must not be negative", where="--keep-days")
    container = open_container(db)
    try:
        result = apply_retention(container.telemetry(), SystemClock(), timedelta(days=keep_days))
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
    machines_app.add_typer(quarantine_app, name="quarantine")
    telemetry_app.command("retain")(retain_cmd)
    app.add_typer(machines_app, name="machines")
    app.add_typer(telemetry_app, name="telemetry")
    bench.command("ingest")(bench_ingest_cmd)
