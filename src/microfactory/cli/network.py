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
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from microfactory import network_bootstrap
from microfactory.cli.common import DB_HELP, print_json

network_app = typer.Typer(help="A network of sites joined by NATS JetStream.", no_args_is_help=True)

NATS_HELP = "NATS server URL(s), comma-separated (nats://HOST:PORT)"
Nats = Annotated[str, typer.Option("--nats", help=NATS_HELP)]
Db = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
User = Annotated[str | None, typer.Option("--user", help="NATS user (or MF_NATS_USER)")]
Password = Annotated[
    str | None, typer.Option("--password", help="NATS password (or MF_NATS_PASSWORD)")
]
Creds = Annotated[str | None, typer.Option("--creds", help="NATS credentials file (JWT)")]


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

    container = open_container(db)
    try:
        setting = network_bootstrap.enable_site(container, site, sample_interval)
        queued = network_bootstrap.backfill(container) if backfill else 0
    finally:
        container.close()
    print_json({"site": setting.site, "epoch": setting.epoch, "backfilled": queued})


@network_app.command("disable")
def disable_cmd(db: Db = None) -> None:
    """Stop replicating this database (records not yet published are dropped)."""
    from microfactory.cli.common import open_container

    container = open_container(db)
    try:
        dropped = network_bootstrap.disable_site(container)
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
        network_bootstrap.run_site(
            site, nats, db, user, password, creds, sample_interval, batch, pack
        )
    )
    print_json(counters)


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
    print_json(
        asyncio.run(
            network_bootstrap.run_hub(nats, db, user, password, creds, replicas, gap_timeout, batch)
        )
    )


# -- status, quote, route --------------------------------------------------------------------


@network_app.command("status")
def status_cmd(
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The hub's view of each site: last event, lag (records not yet applied), events."""
    from microfactory.cli.common import console, open_container
    from microfactory.services.network import network_status

    container = open_container(db)
    try:
        data = network_status(network_bootstrap.hub_store(container))
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
        container, link, quoter = await network_bootstrap.quoter(nats, db, user, password)
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
        container, link, quoter = await network_bootstrap.quoter(nats, db, user, password)
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

    container = open_container(db)
    try:
        hub = network_bootstrap.hub_store(container)
        registry = container.model_registry()
        trained = train_fleet_models(hub, registry, SystemClock())
        out: dict[str, Any] = {
            "models": [
                {"name": m.name, "version": m.version, "metrics": m.metrics} for m in trained
            ]
        }
        if ship and nats:
            sites = [s["site"] for s in hub.sites()]

            async def send() -> list[dict[str, Any]]:
                _, link, quoter = await network_bootstrap.quoter(nats, db, user, password)
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

    container = open_container(db)
    try:
        hub = network_bootstrap.hub_store(container)
        lives = fleet_lives(hub, machine_types(hub), datetime.now(UTC))
        result = compare_pooling(lives)
    finally:
        container.close()
    print_json(result)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
