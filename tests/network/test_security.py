"""The shipped accounts.conf: a site publishes under its own subject only; the server itself
refuses anything else (the record never reaches the stream)."""

from __future__ import annotations

import asyncio

import pytest

from microfactory.connect.nats import EVENTS_STREAM, NatsLink, StreamLimits
from microfactory.core.errors import ConnectorError

from .natscluster import PASSWORDS, NatsCluster


async def _scenario(server: NatsCluster) -> tuple[int, int, list[str]]:
    hub = NatsLink(server.urls(), name="hub", user="hub", password=PASSWORDS["MF_HUB_PASSWORD"])
    await hub.connect()
    await hub.ensure_streams(StreamLimits(replicas=1))
    site_a = NatsLink(
        server.urls(), name="site-a", user="site-a", password=PASSWORDS["MF_SITE_A_PASSWORD"]
    )
    await site_a.connect()
    own = await site_a.js_publish("mf.site-a.state.m1", b"{}", msg_id="a-1")
    with pytest.raises(ConnectorError):
        await site_a.js_publish("mf.site-b.state.m1", b"{}", msg_id="a-2")
    await asyncio.sleep(0.2)
    stored = await hub.stream_messages(EVENTS_STREAM)
    errors = list(site_a.errors)
    await site_a.close()
    await hub.close()
    return own, stored, errors


def test_a_site_publishing_under_another_sites_subject_is_refused(
    secure_server: NatsCluster,
) -> None:
    own, stored, errors = asyncio.run(_scenario(secure_server))
    assert own == 1  # its own subject: stored
    assert stored == 1  # the other site's subject: never reached the stream
    assert any("permissions violation" in e.lower() and "mf.site-b" in e for e in errors), errors


def test_a_site_with_a_wrong_password_cannot_connect(secure_server: NatsCluster) -> None:
    async def connect() -> None:
        link = NatsLink(secure_server.urls(), name="x", user="site-a", password="wrong")
        await link.connect()

    with pytest.raises(ConnectorError):
        asyncio.run(connect())


async def _site_duties(server: NatsCluster) -> tuple[bytes, list[bytes], list[str]]:
    from microfactory.connect.nats import ROUTES_STREAM, route_durable

    hub = NatsLink(server.urls(), name="hub", user="hub", password=PASSWORDS["MF_HUB_PASSWORD"])
    await hub.connect()
    await hub.ensure_streams(StreamLimits(replicas=1))
    await hub.ensure_route_consumer("site-a")
    await hub.js_publish("mfroute.site-a", b'{"route_id": "r1"}', msg_id="r1")
    site_a = NatsLink(
        server.urls(), name="site-a", user="site-a", password=PASSWORDS["MF_SITE_A_PASSWORD"]
    )
    await site_a.connect()

    async def answer(payload: bytes, headers: dict[str, str]) -> bytes:
        return b"offer from site-a"

    await site_a.serve("mfrpc.quote", answer)
    fetch = await site_a.pull(route_durable("site-a"), ROUTES_STREAM, create=False)
    routed = await fetch(10, 2.0)
    for msg in routed:
        await msg.ack()
    replies = await hub.scatter("mfrpc.quote", b"model", {}, deadline_s=2.0, expected=1)
    errors = list(site_a.errors)
    await site_a.close()
    await hub.close()
    return routed[0].data if routed else b"", [r.data for r in replies], errors


def test_a_site_may_take_its_routed_orders_and_answer_quotes(secure_server: NatsCluster) -> None:
    routed, replies, errors = asyncio.run(_site_duties(secure_server))
    assert routed == b'{"route_id": "r1"}'
    assert replies == [b"offer from site-a"]
    assert not errors, errors
