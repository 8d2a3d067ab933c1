"""Composition of the network (beside bootstrap.py): a site's replication (its outbox, the
NATS link, the relay, the quote responder and the route taker) and the hub (its store and
durable consumer), wired for `microfactory network`. Concrete adapters meet the network's
services here and nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Any

from microfactory.bootstrap import bootstrap
from microfactory.connect.nats import NatsLink
from microfactory.store import outbox
from microfactory.store.network_tables import SqlHubStore

log = logging.getLogger("microfactory.network")


def nats_link(
    urls: str,
    name: str,
    user: str | None = None,
    password: str | None = None,
    creds: str | None = None,
) -> NatsLink:
    return NatsLink(urls, name=name, user=user, password=password, creds_file=creds)


def hub_store(container: Any) -> SqlHubStore:
    """The hub's fleet view (PostgreSQL in production)."""
    return SqlHubStore(container.engine)


def enable_site(container: Any, site: str, sample_interval_s: float) -> Any:
    return outbox.enable(container.engine, site, sample_interval_s=sample_interval_s)


def backfill(container: Any) -> int:
    return outbox.backfill(container.engine)


def disable_site(container: Any) -> int:
    return outbox.disable(container.engine)


def credentials(user: str | None, password: str | None) -> tuple[str | None, str | None]:
    import os

    return user or os.environ.get("MF_NATS_USER"), password or os.environ.get("MF_NATS_PASSWORD")


def stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def connect(link: Any, stop: asyncio.Event) -> bool:
    """Connect, retrying while the cluster is unreachable (a site works offline)."""
    from microfactory.core.errors import ConnectorError

    warned = False
    while not stop.is_set():
        try:
            await link.connect()
            return True
        except ConnectorError as exc:
            if not warned:
                log.warning("waiting for NATS: %s", exc)
                warned = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return False


async def retrying(step: Any, stop: asyncio.Event, what: str) -> Any:
    """Run `step` until it succeeds or `stop` is set (None then): a cluster that is electing
    a leader, or has a node down, answers with timeouts for a while."""
    from microfactory.core.errors import ConnectorError

    delay = 0.5
    while not stop.is_set():
        try:
            return await step()
        except ConnectorError as exc:
            log.warning("%s: %s; retrying", what, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)
    return None


def announce_machines(container: Any) -> None:
    """Tell the hub which machines (of which types) this site has, when a factory is loaded."""
    from microfactory.core.errors import NotFound
    from microfactory.services.factory import current_factory

    try:
        with container.uow() as tx:
            factory = current_factory(tx)
    except NotFound:
        return
    with container.engine.begin() as conn:
        outbox.enqueue(conn, [outbox.machines({m.id: m.type for m in factory.machines})])


def model_installer(container: Any) -> Any:
    """Register a model shipped by the hub in the site's own registry (the same bytes,
    checked by their SHA-256; a redelivered model is registered once)."""
    import base64
    import hashlib
    from datetime import UTC, datetime

    from microfactory.core.errors import ValidationError

    registry = container.model_registry()

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


def site_services(container: Any) -> tuple[Any, Any]:
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


async def run_site(
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
    from microfactory.connect.nats import (
        QUOTE_SUBJECT,
        ROUTES_STREAM,
        NatsLink,
        route_durable,
    )
    from microfactory.services.network import RouteTaker, SiteQuoteResponder, SiteReplicator

    container = bootstrap(db_url=db)
    try:
        setting = outbox.enable(container.engine, site, sample_interval_s=sample_interval)
        announce_machines(container)
        box = outbox.SqlOutbox(container.engine, setting)
        user, password = credentials(user, password)
        link = NatsLink(
            nats, name=f"microfactory-site-{site}", user=user, password=password, creds_file=creds
        )
        stop = stop_event()
        replicator = SiteReplicator(box, link, batch=batch, window=batch, pack=pack)
        quote, accept = site_services(container)
        responder = SiteQuoteResponder(site, quote)
        taker = RouteTaker(box, accept, model_installer(container))
        if await connect(link, stop):
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


async def run_hub(
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

    from microfactory.connect.nats import (
        EVENTS_STREAM,
        EVENTS_SUBJECTS,
        HUB_DURABLE,
        NatsLink,
        StreamLimits,
    )
    from microfactory.services.network import HubConsumer

    container = bootstrap(db_url=db)
    try:
        store = SqlHubStore(container.engine)
        user, password = credentials(user, password)
        link = NatsLink(
            nats, name="microfactory-hub", user=user, password=password, creds_file=creds
        )
        stop = stop_event()
        consumer = HubConsumer(store, gap_timeout_s=gap_timeout)
        if await connect(link, stop):

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

            fetch = await retrying(setup, stop, "setting up the hub's streams")
            if fetch is not None:
                await consumer.run(stop, fetch, batch=batch)
            await link.close()
    finally:
        container.close()
    return {"role": "hub", **asdict(consumer.counters)}


async def quoter(nats: str, db: str | None, user: str | None, password: str | None) -> Any:
    from microfactory.connect.nats import NatsLink
    from microfactory.services.network import NetworkQuoter

    container = bootstrap(db_url=db)
    user, password = credentials(user, password)
    link = NatsLink(nats, name="microfactory-hub-quote", user=user, password=password)
    await link.connect()
    return container, link, NetworkQuoter(link, SqlHubStore(container.engine))
