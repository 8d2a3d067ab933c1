"""The network quote through the hub's API: one real site answers over our own NATS
server; the API returns its offer and routes the order there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trimesh

from api.support import Env, make_env  # tests/api (the tests folder is on the path)
from microfactory.access import Role
from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.nats import NatsLink, StreamLimits
from microfactory.services.factory import init_factory
from microfactory.store import outbox

from .natscluster import NatsCluster
from .support import Proc, binary_stl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def hub_env(sqlite_url: str) -> Iterator[Env]:
    yield from make_env(sqlite_url)


def test_the_api_quotes_across_the_network_and_routes_the_order(
    server: NatsCluster, hub_env: Env, tmp_path: Path
) -> None:
    site_url = f"sqlite:///{tmp_path / 'site-a.db'}"
    container = bootstrap(db_url=site_url)
    try:
        init_factory(container.uow, DEMO_FACTORY)
        outbox.enable(container.engine, "site-a")
    finally:
        container.close()
    nats = server.urls()

    async def streams() -> None:  # what `network hub` does at its start
        link = NatsLink(nats, name="setup")
        await link.connect()
        await link.ensure_streams(StreamLimits(replicas=1))
        await link.close()

    asyncio.run(streams())
    hub_env.ctx.network_link = lambda: NatsLink(nats, name="api-test")
    args = ["network", "site", "--site", "site-a", "--nats", nats, "--db", site_url]
    site = Proc(args, tmp_path, "site-a").start()
    try:
        client = hub_env.as_role(Role.PLANNER)
        model = binary_stl(trimesh.creation.box((20, 20, 10)))
        deadline = time.monotonic() + 60
        offers: list[dict[str, object]] = []
        while not offers and time.monotonic() < deadline:  # until the site is up
            r = client.post(
                "/api/v1/network/quote",
                files={"file": ("part.stl", model)},
                data={"material": "pla-black", "quantity": "3", "deadline_s": "5"},
            )
            assert r.status_code == 200, r.text
            offers = r.json()["offers"]
        assert [o["site"] for o in offers] == ["site-a"]
        assert r.json()["recommended"]["quote_id"] == offers[0]["quote_id"]
        routed = client.post(
            "/api/v1/network/route",
            json={"site": "site-a", "quote_id": offers[0]["quote_id"], "customer": "acme"},
        )
        assert routed.status_code == 201, routed.text
        assert routed.json()["site"] == "site-a"
    finally:
        site.kill()
