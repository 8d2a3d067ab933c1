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
