"""`microfactory network ...`: a site's replication, the hub, network status, quote and route.

    network enable --site ID --db URL            replicate this database as site ID
    network site --site ID --nats URL[,URL] --db URL   run a site's replication until SIGTERM
    network hub --nats URL[,URL] --db URL        consume every site into the hub database
    network status --db HUB_URL --json           sites, last event, lag, events
    network quote MODEL --material M --quantity Q --nats URL --db HUB_URL --json
    network route --site ID --quote Q --customer C --nats URL --db HUB_URL

`site` and `hub` print their counters as JSON on stdout when they stop (exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from microfactory.cli.common import DB_HELP, err_console, print_json

network_app = typer.Typer(help="A network of sites joined by NATS JetStream.", no_args_is_help=True)

NATS_HELP = "NATS server URL(s), comma-separated (nats://HOST:PORT)"
Nats = Annotated[str, typer.Option("--nats", help=NATS_HELP)]
Db = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
User = Annotated[str | None, typer.Option("--user", help="NATS user (or MF_NATS_USER)")]
Password = Annotated[
    str | None, typer.Option("--password", help="NATS password (or MF_NATS_PASSWORD)")
]
Creds = Annotated[str | None, typer.Option("--creds", help="NATS credentials file (JWT)")]


def _credentials(user: str | None, password: str | None) -> tuple[str | None, str | None]:
    import os

    return user or os.environ.get("MF_NATS_USER"), password or os.environ.get("MF_NATS_PASSWORD")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _connect(link: Any, stop: asyncio.Event) -> bool:
    """Connect, retrying while the cluster is unreachable (a site works offline)."""
    from microfactory.core.errors import ConnectorError

    warned = False
    while not stop.is_set():
        try:
            await link.connect()
            return True
        except ConnectorError as exc:
            if not warned:
                err_console.print(f"[yellow]waiting for NATS:[/] {exc}")
                warned = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return False


async def _retrying(step: Any, stop: asyncio.Event, what: str) -> Any:
    """Run `step` until it succeeds or `stop` is set (None then): a cluster that is electing
    a leader, or has a node down, answers with timeouts for a while."""
    from microfactory.core.errors import ConnectorError

    delay = 0.5
    while not stop.is_set():
        try:
            return await step()
        except ConnectorError as exc:
            err_console.print(f"[yellow]{what}:[/] {exc}; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)
    return None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


# -- enable / disable -----------------------------------------------------------------------


@network_app.command("enable")
def enable_cmd(
    site: Annotated[str, typer.Option("--site", help="This site's id (letters, digits, - _)")],
    db: Db = None,
    sample_interval: Annotated[
        float,
        typer.Option(
            help="Replicate at most one sample batch per machine per S seconds (0: all, -1: none)"
        ),
    ] = 0.0,
    backfill: Annotated[
        bool, typer.Option("--backfill", help="Also enqueue the history already stored")
    ] = False,
) -> None:
    """Replicate this database as SITE from now on (its changes go into the outbox); with
    --backfill, its stored events and samples too (a site joining with its past)."""
    from microfactory.cli.common import open_container
    from microfactory.store import outbox

    container = open_container(db)
    try:
        setting = outbox.enable(container.engine, site, sample_interval_s=sample_interval)
        queued = outbox.backfill(container.engine) if backfill else 0
    finally:
        container.close()
    print_json({"site": setting.site, "epoch": setting.epoch, "backfilled": queued})


@network_app.command("disable")
def disable_cmd(db: Db = None) -> None:
    """Stop replicating this database (records not yet published are dropped)."""
    from microfactory.cli.common import open_container
    from microfactory.store import outbox

    container = open_container(db)
    try:
        dropped = outbox.disable(container.engine)
    finally:
        container.close()
    print_json({"replication": "off", "dropped": dropped})


# -- site -----------------------------------------------------------------------------------


@network_app.command("site")
def site_cmd(
    site: Annotated[str, typer.Option("--site", help="This site's id")],
    nats: Nats,
    db: Db = None,
    user: User = None,
    password: Password = None,
    creds: Creds = None,
    sample_interval: Annotated[
        float, typer.Option(help="Sample thinning, see `network enable`")
    ] = 0.0,
    batch: Annotated[int, typer.Option(help="Outbox rows per publish batch")] = 2000,
    pack: Annotated[
        int,
        typer.Option(
            help="Records per NATS message (1: one each, de-duplicated by event id; more: "
            "fewer, larger messages, de-duplicated by range and at the hub)"
        ),
    ] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a site's replication, answer network quotes and take routed orders until SIGTERM;
    then print JSON counters."""
    _logging(verbose)
    counters = asyncio.run(
        _run_site(site, nats, db, user, password, creds, sample_interval, batch, pack)
    )
    print_json(counters)


def _announce_machines(container: Any) -> None:
    """Tell the hub which machines (of which types) this site has, when a factory is loaded."""
    from microfactory.core.errors import NotFound
    from microfactory.services.factory import current_factory
    from microfactory.store import outbox

    try:
        with container.uow() as tx:
            factory = current_factory(tx)
    except NotFound:
        return
    with container.engine.begin() as conn:
        outbox.enqueue(conn, [outbox.machines({m.id: m.type for m in factory.machines})])


def _model_installer(container: Any) -> Any:
    """Register a model shipped by the hub in the site's own registry (the same bytes,
    checked by their SHA-256; a redelivered model is registered once)."""
    import base64
    import hashlib
    from datetime import UTC, datetime

    from microfactory.core.errors import ValidationError
    from microfactory.store.maintenance_tables import SqlModelRegistry

    registry = SqlModelRegistry(container.engine)

    def install(shipped: dict[str, Any]) -> dict[str, Any]:
        data = base64.b64decode(shipped["model_b64"])
        digest = hashlib.sha256(data).hexdigest()
        if digest != shipped["sha256"]:
            raise ValidationError("shipped model does not match its SHA-256", where="model")
        for known in registry.list(shipped["name"]):
            if known.model_sha256 == digest:
                return {"status": "known", "name": known.name, "version": known.version}
        info = registry.register(
            name=shipped["name"],
            kind=shipped["kind_of_model"],
            model=data,
            trained_on=f"hub v{shipped['version']}: {shipped['trained_on']}",
            data_digest=shipped["data_digest"],
            metrics=dict(shipped["metrics"]),
            params=dict(shipped["params"]),
            created_at=datetime.now(UTC),
        )
        return {"status": "installed", "name": info.name, "version": info.version}

    return install


def _site_services(container: Any) -> tuple[Any, Any]:
    """(quote function, accept function) on the site's own quoting service, serialized:
    the planner behind it is not meant for two threads at once."""
    service = container.quotes()
    lock = threading.Lock()

    def quote(
        data: bytes, filename: str, material: str, quantity: int, customer: str | None
    ) -> dict[str, Any]:
        with lock:
            response = service.quote_upload(
                data, filename, material=material, quantity=quantity, customer=customer
            )
        return dict(response.to_dict())

    def accept(quote_id: str, customer: str | None) -> dict[str, Any]:
        with lock:
            return dict(service.accept(quote_id, customer=customer).to_dict())

    return quote, accept


async def _run_site(
    site: str,
    nats: str,
    db: str | None,
    user: str | None,
    password: str | None,
    creds: str | None,
    sample_interval: float,
    batch: int,
    pack: int = 1,
) -> dict[str, Any]:
    from microfactory.cli.common import open_container
    from microfactory.connect.nats import (
        QUOTE_SUBJECT,
        ROUTES_STREAM,
        NatsLink,
        route_durable,
    )
    from microfactory.services.network import RouteTaker, SiteQuoteResponder, SiteReplicator
    from microfactory.store import outbox

    container = open_container(db)
    try:
        setting = outbox.enable(container.engine, site, sample_interval_s=sample_interval)
        _announce_machines(container)
        box = outbox.SqlOutbox(container.engine, setting)
        user, password = _credentials(user, password)
        link = NatsLink(
            nats, name=f"microfactory-site-{site}", user=user, password=password, creds_file=creds
        )
        stop = _stop_event()
        replicator = SiteReplicator(box, link, batch=batch, window=batch, pack=pack)
        quote, accept = _site_services(container)
        responder = SiteQuoteResponder(site, quote)
        taker = RouteTaker(box, accept, _model_installer(container))
        if await _connect(link, stop):
            await link.serve(QUOTE_SUBJECT, responder.handle)

            async def bind() -> Any:
                return await link.pull(route_durable(site), ROUTES_STREAM, create=False)

            await asyncio.gather(replicator.run(stop), taker.run(stop, bind))
            await link.close()
        waiting, head = box.backlog()
    finally:
        container.close()
    c = replicator.counters
    return {
        "site": site,
        "published": c.published,
        "acknowledged_upto": c.acknowledged_upto,
        "batches": c.batches,
        "publish_failures": c.failures,
        "last_error": c.last_error,
        "heartbeats": c.heartbeats,
        "outbox_waiting": waiting,
        "outbox_head": head,
        "quotes_answered": responder.answered,
        "quotes_refused": responder.refused,
        "routed_orders_placed": taker.placed,
        "routed_orders_failed": taker.failed,
        "models_installed": taker.models,
        "disconnects": link.disconnects,
    }


# -- hub ------------------------------------------------------------------------------------


@network_app.command("hub")
def hub_cmd(
    nats: Nats,
    db: Db = None,
    user: User = None,
    password: Password = None,
    creds: Creds = None,
    replicas: Annotated[int, typer.Option(help="Stream replicas (3 on a 3-node cluster)")] = 1,
    gap_timeout: Annotated[
        float, typer.Option(help="Seconds a hole in a site's sequence may stay open")
    ] = 120.0,
    batch: Annotated[int, typer.Option(help="Messages per fetch")] = 2000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Consume every site's records into the hub database until SIGTERM; then print JSON
    counters."""
    _logging(verbose)
    print_json(asyncio.run(_run_hub(nats, db, user, password, creds, replicas, gap_timeout, batch)))


async def _run_hub(
    nats: str,
    db: str | None,
    user: str | None,
    password: str | None,
    creds: str | None,
    replicas: int,
    gap_timeout: float,
    batch: int,
) -> dict[str, Any]:
    from dataclasses import asdict

    from microfactory.cli.common import open_container
    from microfactory.connect.nats import (
        EVENTS_STREAM,
        EVENTS_SUBJECTS,
        HUB_DURABLE,
        NatsLink,
        StreamLimits,
    )
    from microfactory.services.network import HubConsumer
    from microfactory.store.network_tables import SqlHubStore

    container = open_container(db)
    try:
        store = SqlHubStore(container.engine)
        user, password = _credentials(user, password)
        link = NatsLink(
            nats, name="microfactory-hub", user=user, password=password, creds_file=creds
        )
        stop = _stop_event()
        consumer = HubConsumer(store, gap_timeout_s=gap_timeout)
        if await _connect(link, stop):

            async def setup() -> Any:
                await link.ensure_streams(StreamLimits(replicas=replicas))
                fetch = await link.pull(
                    HUB_DURABLE,
                    EVENTS_STREAM,
                    filter_subject=EVENTS_SUBJECTS,
                    create=True,
                    ack_all=True,
                )
                consumer.ack_floor = consumer.frontier = await link.ack_floor(
                    HUB_DURABLE, EVENTS_STREAM
                )
                return fetch

            fetch = await _retrying(setup, stop, "setting up the hub's streams")
            if fetch is not None:
                await consumer.run(stop, fetch, batch=batch)
            await link.close()
    finally:
        container.close()
    return {"role": "hub", **asdict(consumer.counters)}


# -- status, quote, route --------------------------------------------------------------------


@network_app.command("status")
def status_cmd(
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The hub's view of each site: last event, lag (records not yet applied), events."""
    from microfactory.cli.common import console, open_container
    from microfactory.services.network import network_status
    from microfactory.store.network_tables import SqlHubStore

    container = open_container(db)
    try:
        data = network_status(SqlHubStore(container.engine))
    finally:
        container.close()
    if as_json:
        print_json(data)
        return
    if not data["sites"]:
        console.print("no site has replicated to this hub yet")
    for s in data["sites"]:
        console.print(
            f"[bold]{s['site']}[/]: {s['events']} events, lag {s['lag_events']}, "
            f"last event {s['last_event_at']}"
        )


async def _quoter(nats: str, db: str | None, user: str | None, password: str | None) -> Any:
    from microfactory.cli.common import open_container
    from microfactory.connect.nats import NatsLink
    from microfactory.services.network import NetworkQuoter
    from microfactory.store.network_tables import SqlHubStore

    container = open_container(db)
    user, password = _credentials(user, password)
    link = NatsLink(nats, name="microfactory-hub-quote", user=user, password=password)
    await link.connect()
    return container, link, NetworkQuoter(link, SqlHubStore(container.engine))


@network_app.command("quote")
def quote_cmd(
    model: Annotated[Path, typer.Argument(help="3D model (STL, 3MF, OBJ)")],
    material: Annotated[str, typer.Option(help="Material id")],
    quantity: Annotated[int, typer.Option(min=1, help="Parts")] = 1,
    nats: Nats = "nats://127.0.0.1:4222",
    db: Db = None,
    customer: Annotated[str | None, typer.Option(help="Customer id (to accept)")] = None,
    deadline: Annotated[float, typer.Option(help="Seconds to wait for the sites")] = 1.5,
    accept: Annotated[
        bool, typer.Option("--accept", help="Route the order to the recommended site")
    ] = False,
    user: User = None,
    password: Password = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Ask every site for its capable-to-promise quote; one offer per site and a
    recommendation (earliest date, then price). With --accept, route the order there."""
    from microfactory.core.errors import ValidationError

    try:
        data = model.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read the model: {exc.strerror}", where=str(model)) from None

    async def run() -> dict[str, Any]:
        container, link, quoter = await _quoter(nats, db, user, password)
        try:
            result: dict[str, Any] = await quoter.quote(
                data,
                model.name,
                material=material,
                quantity=quantity,
                customer=customer,
                deadline_s=deadline,
            )
            best = result["recommended"]
            if accept and best is not None:
                result["routed"] = await quoter.route(best["site"], best["quote_id"], customer)
            return result
        finally:
            await link.close()
            container.close()

    result = asyncio.run(run())
    if as_json:
        print_json(result)
        return
    _render_quote(result)


def _render_quote(result: dict[str, Any]) -> None:
    from microfactory.cli.common import console

    for o in result["offers"]:
        mark = "→" if result["recommended"] and o["site"] == result["recommended"]["site"] else " "
        console.print(
            f"{mark} [bold]{o['site']}[/]: {o['price']:.2f} {o['currency']}, promised "
            f"{o['promised_date']} (quote {o['quote_id']})"
        )
    for m in result["missing"]:
        console.print(f"  [yellow]{m['site']}[/]: {m['reason']}")
    for r in result["refused"]:
        console.print(f"  [red]{r['site']}[/]: {r['error']}")
    if "routed" in result:
        console.print(f"routed to {result['routed']['site']} ({result['routed']['route_id']})")


@network_app.command("route")
def route_cmd(
    site: Annotated[str, typer.Option("--site", help="The site whose offer is accepted")],
    quote: Annotated[str, typer.Option("--quote", help="The site's quote id")],
    nats: Nats = "nats://127.0.0.1:4222",
    db: Db = None,
    customer: Annotated[str | None, typer.Option(help="Customer id")] = None,
    user: User = None,
    password: Password = None,
) -> None:
    """Route an accepted offer to its site (durable: an offline site takes it when back)."""

    async def run() -> dict[str, Any]:
        container, link, quoter = await _quoter(nats, db, user, password)
        try:
            routed: dict[str, Any] = await quoter.route(site, quote, customer)
            return routed
        finally:
            await link.close()
            container.close()

    print_json(asyncio.run(run()))


# -- fleet learning ---------------------------------------------------------------------------


@network_app.command("fleet-train")
def fleet_train_cmd(
    db: Db = None,
    nats: Annotated[str | None, typer.Option("--nats", help=NATS_HELP + " (to --ship)")] = None,
    ship: Annotated[bool, typer.Option("--ship", help="Send the models to every site")] = False,
    user: User = None,
    password: Password = None,
) -> None:
    """Train one health model per machine type on every site's data (at the hub), register
    it in the hub's model registry, and with --ship send it to the sites."""
    import base64

    from microfactory.cli.common import open_container
    from microfactory.core.clock import SystemClock
    from microfactory.services.fleet import train_fleet_models
    from microfactory.store.maintenance_tables import SqlModelRegistry
    from microfactory.store.network_tables import SqlHubStore

    container = open_container(db)
    try:
        hub = SqlHubStore(container.engine)
        registry = SqlModelRegistry(container.engine)
        trained = train_fleet_models(hub, registry, SystemClock())
        out: dict[str, Any] = {
            "models": [
                {"name": m.name, "version": m.version, "metrics": m.metrics} for m in trained
            ]
        }
        if ship and nats:
            sites = [s["site"] for s in hub.sites()]

            async def send() -> list[dict[str, Any]]:
                _, link, quoter = await _quoter(nats, db, user, password)
                sent = []
                try:
                    for m in trained:
                        info, data = registry.load(m.name, m.version)
                        model = {
                            "name": info.name,
                            "version": info.version,
                            "kind_of_model": info.kind,
                            "trained_on": info.trained_on,
                            "data_digest": info.data_digest,
                            "metrics": info.metrics,
                            "params": info.params,
                            "sha256": info.model_sha256,
                            "model_b64": base64.b64encode(data).decode(),
                        }
                        for site in sites:
                            await quoter.ship_model(site, model)
                            sent.append({"site": site, "model": m.name, "version": m.version})
                finally:
                    await link.close()
                return sent

            out["shipped"] = asyncio.run(send())
    finally:
        container.close()
    print_json(out)


@network_app.command("fleet-eval")
def fleet_eval_cmd(db: Db = None) -> None:
    """Does pooling every site's lives help? Leave-one-failed-life-out per site and machine
    type: a model on the site's own lives vs on all sites' lives (JSON)."""
    from datetime import UTC, datetime

    from microfactory.cli.common import open_container
    from microfactory.services.fleet import compare_pooling, fleet_lives, machine_types
    from microfactory.store.network_tables import SqlHubStore

    container = open_container(db)
    try:
        hub = SqlHubStore(container.engine)
        lives = fleet_lives(hub, machine_types(hub), datetime.now(UTC))
        result = compare_pooling(lives)
    finally:
        container.close()
    print_json(result)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
