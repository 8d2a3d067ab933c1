"""NATS JetStream adapter of the network of sites (nats-py; asyncio).

Subjects and streams:

* `mf.<site>.<kind>[.<machine>]` — a site's replicated records (stream `MF_EVENTS`, file
  storage, `Nats-Msg-Id` de-duplication within `duplicate_window`); `mf.<site>.heartbeat` —
  the site's outbox head, published every few seconds (same stream, not sequenced).
* `mfroute.<site>` — orders the hub routes to a site (stream `MF_ROUTES`; durable pull
  consumer `route-<site>`, created by the hub, so a routed order waits for an offline site).
* `mfrpc.quote` — the hub's quote request (core NATS request / reply, every site answers).

`publish_ordered` pipelines JetStream publishes (a window of outstanding messages, each
with its own reply subject under one inbox subscription) and reports the longest prefix the
stream acknowledged, which is what the outbox may delete. nats-py and server errors are
translated into `ConnectorError` here, at the adapter's boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from microfactory.core.errors import ConnectorError

log = logging.getLogger(__name__)

EVENTS_STREAM = "MF_EVENTS"
ROUTES_STREAM = "MF_ROUTES"
EVENTS_SUBJECTS = "mf.>"
ROUTE_ROOT = "mfroute"
QUOTE_SUBJECT = "mfrpc.quote"
HUB_DURABLE = "hub"


def route_subject(site: str) -> str:
    return f"{ROUTE_ROOT}.{site}"


def route_durable(site: str) -> str:
    return f"route-{site}"


class Publishable(Protocol):
    """What `publish_ordered` sends (an outbox row)."""

    @property
    def seq(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


@dataclass(frozen=True)
class StreamLimits:
    """Limits of the hub's streams. `replicas` 3 on a 3-node cluster (1 on one server);
    `max_age_s` bounds how long a site may stay cut off from the hub's consumer before
    records are dropped (the hub then records a gap); `duplicate_window_s` is the window
    of `Nats-Msg-Id` de-duplication."""

    replicas: int = 1
    max_age_s: float = 14 * 24 * 3600.0
    max_bytes: int = 20 * 1024**3
    duplicate_window_s: float = 600.0
    max_msg_size: int = 8 * 1024**2


@dataclass(frozen=True)
class Inbound:
    """A message delivered by a JetStream consumer."""

    subject: str
    data: bytes
    headers: dict[str, str]
    raw: Msg
    stream_seq: int

    async def ack(self) -> None:
        await self.raw.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self.raw.nak(delay=delay)


@dataclass(frozen=True)
class Reply:
    """One answer to a scatter-gather request, with the seconds it took."""

    data: bytes
    seconds: float


def _servers(urls: str | Sequence[str]) -> list[str]:
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    out = [u.strip() for u in items if u.strip()]
    if not out:
        raise ConnectorError("no NATS server URL given")
    return [u if "://" in u else f"nats://{u}" for u in out]


class NatsLink:
    """One connection to a NATS cluster (or a leaf node) with JetStream."""

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        name: str,
        user: str | None = None,
        password: str | None = None,
        creds_file: str | None = None,
    ) -> None:
        self.servers = _servers(urls)
        self.name = name
        self._auth: dict[str, Any] = {}
        if user is not None:
            self._auth.update(user=user, password=password or "")
        if creds_file is not None:
            self._auth["user_credentials"] = creds_file
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.errors: list[str] = []
        self.disconnects = 0

    # -- connection --------------------------------------------------------------------------

    async def connect(self, *, timeout: float = 2.0) -> None:
        """Connect once (every server tried); ConnectorError when none answers. After that
        the client reconnects by itself, for ever."""

        async def on_error(exc: Exception) -> None:
            text = str(exc) or type(exc).__name__
            self.errors.append(text)
            del self.errors[:-50]
            log.warning("NATS %s: %s", self.name, text)

        async def on_disconnect() -> None:
            self.disconnects += 1

        try:
            self.nc = await asyncio.wait_for(
                self._connect(timeout, on_error, on_disconnect),
                max(3.0, 2 * timeout * len(self.servers)),
            )
        except TimeoutError:
            last = self.errors[-1] if self.errors else "no answer"
            raise ConnectorError(
                f"cannot connect to NATS at {','.join(self.servers)}: {last}"
            ) from None
        except (nats.errors.Error, OSError) as exc:
            raise ConnectorError(
                f"cannot reach NATS at {','.join(self.servers)}: {exc or type(exc).__name__}"
            ) from exc
        self.js = self.nc.jetstream(timeout=5.0)

    async def _connect(
        self,
        timeout: float,
        on_error: Callable[[Exception], Awaitable[None]],
        on_disconnect: Callable[[], Awaitable[None]],
    ) -> Client:
        return await nats.connect(
            servers=self.servers,
            name=self.name,
            connect_timeout=max(1, int(timeout)),
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            ping_interval=5,
            max_outstanding_pings=3,
            drain_timeout=2,
            **self._auth,
        )

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def _client(self) -> tuple[Client, JetStreamContext]:
        if self.nc is None or self.js is None:
            raise ConnectorError("not connected to NATS")
        return self.nc, self.js

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.drain()
            except (TimeoutError, nats.errors.Error, OSError):
                await self.nc.close()

    # -- streams -------------------------------------------------------------------------------

    async def ensure_streams(self, limits: StreamLimits) -> None:
        """Create (or update) the hub's two streams."""
        _, js = self._client()
        common: dict[str, Any] = {
            "retention": RetentionPolicy.LIMITS,
            "storage": StorageType.FILE,
            "num_replicas": limits.replicas,
            "max_age": limits.max_age_s,
            "max_bytes": limits.max_bytes,
            "duplicate_window": limits.duplicate_window_s,
            "max_msg_size": limits.max_msg_size,
            "discard": DiscardPolicy.OLD,
        }
        for name, subjects in (
            (EVENTS_STREAM, [EVENTS_SUBJECTS]),
            (ROUTES_STREAM, [f"{ROUTE_ROOT}.>"]),
        ):
            config = StreamConfig(name=name, subjects=subjects, **common)
            try:
                try:
                    await js.stream_info(name)
                    await js.update_stream(config)
                except nats.js.errors.NotFoundError:
                    await js.add_stream(config)
            except (TimeoutError, nats.errors.Error) as exc:
                raise ConnectorError(f"cannot create stream {name}: {exc}") from exc

    async def ensure_route_consumer(self, site: str) -> None:
        """The durable consumer through which `site` takes the orders routed to it."""
        _, js = self._client()
        config = ConsumerConfig(
            durable_name=route_durable(site),
            filter_subject=route_subject(site),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=120.0,
            max_deliver=-1,
        )
        try:
            await js.add_consumer(ROUTES_STREAM, config)
        except nats.js.errors.NotFoundError as exc:
            raise ConnectorError(
                f"stream {ROUTES_STREAM} does not exist: start `microfactory network hub` "
                "once, it creates the streams"
            ) from exc
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"cannot create the route consumer of {site}: {exc}") from exc

    async def ack_floor(self, durable: str, stream: str) -> int:
        """The stream sequence up to which the consumer has every message acknowledged."""
        _, js = self._client()
        try:
            info = await js.consumer_info(stream, durable)
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"cannot read consumer {durable}: {exc}") from exc
        return int(info.ack_floor.stream_seq) if info.ack_floor else 0

    async def stream_messages(self, stream: str = EVENTS_STREAM) -> int:
        _, js = self._client()
        try:
            info = await js.stream_info(stream)
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"cannot read stream {stream}: {exc}") from exc
        return int(info.state.messages)

    # -- publishing ------------------------------------------------------------------------------

    async def publish_ordered(
        self, messages: Sequence[Publishable], *, window: int = 2000, timeout: float = 5.0
    ) -> tuple[int, str | None]:
        """Publish `messages` (in seq order) to JetStream, at most `window` unacknowledged
        at a time, each with `Nats-Msg-Id`. Returns (the highest seq s such that the stream
        acknowledged every message up to s — 0 when not even the first —, the first error
        or None). Messages after a failed one may be stored too; re-publishing them is
        harmless (de-duplicated by their message id)."""
        nc, _ = self._client()
        if not messages:
            return 0, None
        inbox = nc.new_inbox()
        acked: set[int] = set()
        failure: list[str] = []
        changed = asyncio.Event()

        async def on_reply(msg: Msg) -> None:
            seq = int(msg.subject.rsplit(".", 1)[1])
            head = msg.headers or {}
            status = head.get("Status")
            if status == "503":
                failure.append("no stream answers (is the hub's stream created?)")
            elif status:
                failure.append(f"status {status} {head.get('Description', '')}".strip())
            elif b'"error"' not in msg.data and msg.data.startswith(b'{"stream"'):
                acked.add(seq)  # {"stream":..,"seq":..[,"duplicate":true]}: stored
            else:
                try:
                    answer = json.loads(msg.data)
                    failure.append(str(answer["error"].get("description", answer["error"])))
                except (ValueError, KeyError, AttributeError):
                    failure.append(f"unreadable acknowledgement {msg.data[:80]!r}")
            changed.set()

        try:
            sub = await nc.subscribe(inbox + ".*", cb=on_reply)
        except (TimeoutError, nats.errors.Error) as exc:
            return 0, f"cannot subscribe: {exc}"
        sent = 0
        try:
            deadline = time.monotonic() + timeout
            for m in messages:
                while sent - len(acked) >= window and not failure:
                    changed.clear()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        await asyncio.wait_for(changed.wait(), left)
                    except TimeoutError:
                        break
                if failure or time.monotonic() >= deadline:
                    break
                await nc.publish(
                    m.subject,
                    m.payload,
                    reply=f"{inbox}.{m.seq}",
                    headers={"Nats-Msg-Id": m.msg_id},
                )
                sent += 1
                deadline = time.monotonic() + timeout
            await nc.flush(timeout=max(1, round(timeout)))
            while len(acked) < sent and not failure:
                changed.clear()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), left)
                except TimeoutError:
                    break
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            failure.append(str(exc) or type(exc).__name__)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        upto = 0
        for m in messages:
            if m.seq not in acked:
                break
            upto = m.seq
        error = failure[0] if failure else None
        if error is None and upto != messages[-1].seq:
            error = f"no acknowledgement within {timeout:g} s"
        return upto, error

    async def publish(self, subject: str, payload: bytes) -> None:
        """A core NATS publish (heartbeats); dropped silently while disconnected."""
        nc, _ = self._client()
        try:
            await nc.publish(subject, payload)
        except (nats.errors.Error, OSError) as exc:
            log.debug("heartbeat not sent: %s", exc)

    async def js_publish(self, subject: str, payload: bytes, msg_id: str) -> int:
        """One JetStream publish with an id; returns the stream sequence."""
        _, js = self._client()
        try:
            ack = await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"JetStream did not take {subject}: {exc}") from exc
        return int(ack.seq)

    # -- consuming -------------------------------------------------------------------------------

    async def pull(
        self,
        durable: str,
        stream: str,
        *,
        filter_subject: str | None = None,
        create: bool,
        ack_all: bool = False,
    ) -> Callable[[int, float], Awaitable[list[Inbound]]]:
        """A fetch function on a durable pull consumer. With `create`, the consumer is made
        when missing (the hub); without, it must exist (a site binds to its route
        consumer). `ack_all`: acknowledging a message acknowledges every earlier one (the
        hub acknowledges once per batch)."""
        _, js = self._client()
        try:
            if create:
                config = ConsumerConfig(
                    durable_name=durable,
                    ack_policy=AckPolicy.ALL if ack_all else AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=30.0,
                    max_deliver=-1,
                    max_ack_pending=50_000,
                    filter_subject=filter_subject,
                )
                psub = await js.pull_subscribe(
                    filter_subject or "", durable=durable, stream=stream, config=config
                )
            else:
                psub = await js.pull_subscribe_bind(durable=durable, stream=stream)
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"cannot bind consumer {durable} on {stream}: {exc}") from exc

        async def fetch(batch: int, timeout: float) -> list[Inbound]:
            try:
                got = await psub.fetch(batch, timeout=timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                return []
            except nats.js.errors.NotFoundError as exc:
                raise ConnectorError(f"consumer {durable} does not exist") from exc
            except nats.errors.Error as exc:
                raise ConnectorError(f"fetch from {durable} failed: {exc}") from exc
            return [
                Inbound(m.subject, m.data, dict(m.headers or {}), m, m.metadata.sequence.stream)
                for m in got
            ]

        return fetch

    # -- request / reply -------------------------------------------------------------------------

    async def serve(
        self, subject: str, handler: Callable[[bytes, dict[str, str]], Awaitable[bytes]]
    ) -> None:
        """Answer requests on `subject` with `handler(payload, headers)`."""
        nc, _ = self._client()

        async def on_request(msg: Msg) -> None:
            try:
                answer = await handler(msg.data, dict(msg.headers or {}))
            except Exception as exc:  # the requester must hear why; the server goes on
                log.exception("request on %s failed", subject)
                answer = json.dumps({"ok": False, "error": str(exc)}).encode()
            if msg.reply:
                try:
                    await nc.publish(msg.reply, answer)
                except nats.errors.Error as exc:
                    log.warning("answer to %s not sent: %s", subject, exc)

        try:
            await nc.subscribe(subject, cb=on_request)
        except nats.errors.Error as exc:
            raise ConnectorError(f"cannot subscribe to {subject}: {exc}") from exc

    async def scatter(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str],
        *,
        deadline_s: float,
        expected: int | None = None,
    ) -> list[Reply]:
        """Publish one request and gather every answer that arrives before the deadline
        (sooner when `expected` answers are in)."""
        nc, _ = self._client()
        inbox = nc.new_inbox()
        replies: list[Reply] = []
        done = asyncio.Event()
        began = time.monotonic()

        async def on_reply(msg: Msg) -> None:
            if msg.headers and msg.headers.get("Status") == "503":
                return  # nobody listens
            replies.append(Reply(msg.data, time.monotonic() - began))
            if expected is not None and len(replies) >= expected:
                done.set()

        try:
            sub = await nc.subscribe(inbox, cb=on_reply)
            await nc.publish(subject, payload, reply=inbox, headers=headers)
            await nc.flush(timeout=max(1, round(deadline_s)))
        except (TimeoutError, nats.errors.Error) as exc:
            raise ConnectorError(f"cannot send the request on {subject}: {exc}") from exc
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), max(0.0, deadline_s - (time.monotonic() - began)))
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()
        return list(replies)
