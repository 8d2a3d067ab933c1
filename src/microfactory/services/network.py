"""Use cases of a network of micro-factories joined by NATS JetStream.

Site side:
* `SiteReplicator` publishes the site's outbox in sequence order and deletes what the stream
  acknowledged; while the hub is unreachable the outbox grows and the site goes on working;
  on reconnection it catches up in order. A heartbeat tells the hub the outbox head (lag).
* `SiteQuoteResponder` answers the hub's network quote with the site's own quoting service
  (capable-to-promise on the site's live plan; the quote is held at the site).
* `RouteTaker` takes orders the hub routed to this site from a durable consumer, accepts the
  held quote (which places the order and replans) and reports the outcome through the outbox.

Hub side:
* `HubConsumer` applies every site's records exactly once and in per-site order: records
  at or below a site's watermark are duplicates (acknowledged, dropped); a record that
  arrives before its predecessor waits, unacknowledged, until the predecessor is in; a hole
  that stays open longer than `gap_timeout_s` (the stream dropped records past its limits)
  is recorded as a gap. Acknowledgements go out only after the store committed.
* `NetworkQuoter` asks every site at once (request / reply with a deadline), returns one
  offer per answering site with a recommendation (earliest date, then lowest price) and the
  sites that did not answer in time; `route` sends an accepted offer to its site through a
  durable subject, so an offline site takes it when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from microfactory.core.errors import Conflict, ConnectorError, MicrofactoryError, ValidationError
from microfactory.core.ids import new_id

log = logging.getLogger(__name__)

HEARTBEAT_KIND = "heartbeat"
PACK_SUFFIX = ".pack"
PACK_BYTES = 512 * 1024


# -- ports ------------------------------------------------------------------------------------


class OutboxMessage(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


class SiteOutbox(Protocol):
    """Port: the site database's outbox (`store.outbox` on an engine)."""

    site: str
    epoch: str

    def pending(self, limit: int, after: int) -> Sequence[OutboxMessage]: ...
    def acknowledge(self, upto: int) -> int: ...
    def backlog(self) -> tuple[int, int]: ...
    def record_route(self, route_id: str, outcome: dict[str, Any]) -> None: ...


class Inbound(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def stream_seq(self) -> int: ...
    async def ack(self) -> None: ...
    async def nak(self, delay: float | None = None) -> None: ...


Fetch = Callable[[int, float], Awaitable[Sequence[Inbound]]]


class Link(Protocol):
    """Port: the NATS JetStream connection (`connect.nats.NatsLink`)."""

    @property
    def connected(self) -> bool: ...
    async def publish_ordered(
        self, messages: Sequence[OutboxMessage | Pack], *, window: int = ..., timeout: float = ...
    ) -> tuple[int, str | None]: ...
    async def publish(self, subject: str, payload: bytes) -> None: ...


class HubStore(Protocol):
    """Port: the hub's store (`store.network_tables.SqlHubStore`)."""

    def watermarks(self) -> dict[str, Any]: ...
    def apply(self, records: Sequence[Any], heartbeats: Sequence[dict[str, Any]] = ()) -> int: ...
    def record_gap(self, site: str, epoch: str, first: int, last: int) -> None: ...
    def start_epoch(self, site: str, epoch: str) -> None: ...
    def sites(self) -> list[dict[str, Any]]: ...


# -- the record as replicated ---------------------------------------------------------------


@dataclass(frozen=True)
class NetRecord:
    """A site's outbox envelope as the hub reads it."""

    site: str
    epoch: str
    seq: int
    kind: str
    key: str
    ts: datetime
    body: dict[str, Any]
    payload: str


def parse_record(data: bytes) -> NetRecord | dict[str, Any]:
    """A record, or a heartbeat (a dict); ValidationError for anything else."""
    try:
        env = json.loads(data)
        if env.get("kind") == HEARTBEAT_KIND:
            return {
                "site": str(env["site"]),
                "epoch": str(env.get("epoch", "")),
                "head_seq": int(env.get("head_seq", 0)),
                "backlog": int(env.get("backlog", 0)),
            }
        ts = datetime.fromisoformat(str(env["ts"]).replace("Z", "+00:00"))
        return NetRecord(
            site=str(env["site"]),
            epoch=str(env["epoch"]),
            seq=int(env["seq"]),
            kind=str(env["kind"]),
            key=str(env["key"]),
            ts=ts if ts.tzinfo else ts.replace(tzinfo=UTC),
            body=dict(env["body"]),
            payload=data.decode(),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(f"unreadable network record: {exc}", where="payload") from None


# -- site: replication ------------------------------------------------------------------------


@dataclass
class ReplicationCounters:
    published: int = 0
    batches: int = 0
    failures: int = 0
    heartbeats: int = 0
    last_error: str | None = None
    acknowledged_upto: int = 0


@dataclass(frozen=True)
class Pack:
    """Consecutive outbox rows in one message (`mf.<site>.pack`, one envelope a line); its
    `seq` is its last row's, its id names the range, so a re-publish of the same range is
    de-duplicated by JetStream and any overlap by the hub's watermark."""

    seq: int
    subject: str
    msg_id: str
    payload: bytes


def pack(
    site: str, messages: Sequence[OutboxMessage], size: int, epoch: str = ""
) -> list[OutboxMessage | Pack]:
    """Group consecutive rows, at most `size` rows and PACK_BYTES bytes a message (size 1:
    one row a message, with the row's own subject and event-id message id). The id holds
    the site database's epoch, so a re-created site's first packs are not taken for
    duplicates of the old one's."""
    if size <= 1:
        return list(messages)
    out: list[OutboxMessage | Pack] = []
    group: list[OutboxMessage] = []
    nbytes = 0

    def flush() -> None:
        if group:
            first, last = group[0].seq, group[-1].seq
            out.append(
                Pack(
                    last,
                    f"mf.{site}{PACK_SUFFIX}",
                    f"{site}:{epoch}:pack:{first}-{last}"
                    if epoch
                    else f"{site}:pack:{first}-{last}",
                    b"\n".join(m.payload for m in group),
                )
            )
            group.clear()

    for m in messages:
        if group and (len(group) >= size or nbytes + len(m.payload) > PACK_BYTES):
            flush()
            nbytes = 0
        group.append(m)
        nbytes += len(m.payload) + 1
    flush()
    return out


@dataclass
class SiteReplicator:
    """Publishes the outbox until `stop` is set; `pack` rows per message (1: one each)."""

    outbox: SiteOutbox
    link: Link
    batch: int = 2000
    pack: int = 1
    window: int = 2000
    ack_timeout_s: float = 5.0
    idle_s: float = 0.05
    heartbeat_s: float = 2.0
    counters: ReplicationCounters = field(default_factory=ReplicationCounters)

    async def run(self, stop: asyncio.Event) -> None:
        last_beat = 0.0
        backoff = 0.2
        while not stop.is_set():
            now = time.monotonic()
            if now - last_beat >= self.heartbeat_s and self.link.connected:
                await self.heartbeat()
                last_beat = now
            if not self.link.connected:
                await _sleep(stop, 0.2)
                continue
            sent = await self.step()
            if sent is None:  # failed: back off, then start again from the first unacked
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, 2.0)
            elif sent == 0:
                backoff = 0.2
                await _sleep(stop, self.idle_s)
            else:
                backoff = 0.2

    async def step(self) -> int | None:
        """One batch: publish, delete what was acknowledged. Returns how many were
        acknowledged, None after a failure."""
        messages = await asyncio.to_thread(self.outbox.pending, self.batch, 0)
        if not messages:
            return 0
        upto, error = await self.link.publish_ordered(
            pack(self.outbox.site, messages, self.pack, self.outbox.epoch),
            window=self.window,
            timeout=self.ack_timeout_s,
        )
        done = 0
        if upto:
            await asyncio.to_thread(self.outbox.acknowledge, upto)
            done = sum(1 for m in messages if m.seq <= upto)
            self.counters.published += done
            self.counters.acknowledged_upto = upto
            self.counters.batches += 1
        if error is not None:
            self.counters.failures += 1
            self.counters.last_error = error
            log.warning("replication of %s paused: %s", self.outbox.site, error)
            return None
        return done

    async def heartbeat(self) -> None:
        waiting, head = await asyncio.to_thread(self.outbox.backlog)
        beat = {
            "kind": HEARTBEAT_KIND,
            "site": self.outbox.site,
            "epoch": self.outbox.epoch,
            "head_seq": head,
            "backlog": waiting,
            "at": datetime.now(UTC).isoformat(),
        }
        await self.link.publish(
            f"mf.{self.outbox.site}.{HEARTBEAT_KIND}", json.dumps(beat).encode()
        )
        self.counters.heartbeats += 1


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


# -- site: quotes and routed orders -----------------------------------------------------------

QuoteFn = Callable[[bytes, str, str, int, str | None], dict[str, Any]]
AcceptFn = Callable[[str, str | None], dict[str, Any]]
InstallFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class SiteQuoteResponder:
    """Answers network quote requests with this site's own quote (held at the site)."""

    site: str
    quote: QuoteFn
    answered: int = 0
    refused: int = 0

    async def handle(self, payload: bytes, headers: dict[str, str]) -> bytes:
        try:
            material = headers["Mf-Material"]
            quantity = int(headers["Mf-Quantity"])
            filename = headers.get("Mf-Filename", "model.stl")
            customer = headers.get("Mf-Customer") or None
            offer = await asyncio.to_thread(
                self.quote, payload, filename, material, quantity, customer
            )
        except (KeyError, ValueError, MicrofactoryError) as exc:
            self.refused += 1
            return json.dumps({"site": self.site, "ok": False, "error": str(exc)}).encode()
        self.answered += 1
        return json.dumps({"site": self.site, "ok": True, "offer": offer}, default=str).encode()


@dataclass
class RouteTaker:
    """Takes routed orders: accept the site's held quote (order placed, plan made) and
    report the outcome to the hub through the outbox; acknowledge only afterwards."""

    outbox: SiteOutbox
    accept: AcceptFn
    install: InstallFn | None = None
    placed: int = 0
    failed: int = 0
    models: int = 0

    async def run(self, stop: asyncio.Event, bind: Callable[[], Awaitable[Fetch]]) -> None:
        fetch: Fetch | None = None
        while not stop.is_set():
            if fetch is None:
                try:
                    fetch = await bind()
                except ConnectorError as exc:  # no order routed here yet, or offline
                    log.debug("route consumer not ready: %s", exc)
                    await _sleep(stop, 1.0)
                    continue
            try:
                messages = await fetch(10, 1.0)
            except ConnectorError as exc:
                log.warning("routed orders: %s", exc)
                fetch = None
                await _sleep(stop, 1.0)
                continue
            for msg in messages:
                await self.take(msg)

    async def take(self, msg: Inbound) -> dict[str, Any]:
        try:
            order = json.loads(msg.data)
            if order.get("kind") == "model":
                return await self._install(order, msg)
            route_id, quote_id = str(order["route_id"]), str(order["quote_id"])
        except (ValueError, KeyError, TypeError):
            log.error("unreadable routed order dropped: %r", msg.data[:200])
            await msg.ack()
            return {"status": "failed", "detail": "unreadable"}
        customer = order.get("customer")
        try:
            result = await asyncio.to_thread(self.accept, quote_id, customer)
            outcome = {"status": "placed", **result}
            self.placed += 1
        except Conflict as exc:
            already = _accepted_order(str(exc))
            if already is not None:  # a redelivery: the quote was accepted before
                outcome = {"status": "placed", "order_id": already, "detail": str(exc)}
            else:
                outcome = {"status": "failed", "detail": str(exc)}
                self.failed += 1
        except MicrofactoryError as exc:
            outcome = {"status": "failed", "detail": str(exc)}
            self.failed += 1
        outcome.update(route_id=route_id, quote_id=quote_id, site=self.outbox.site)
        await asyncio.to_thread(self.outbox.record_route, route_id, outcome)
        await msg.ack()
        return outcome

    async def _install(self, shipped: dict[str, Any], msg: Inbound) -> dict[str, Any]:
        """A model shipped by the hub: register it in the site's registry (once)."""
        if self.install is None:
            await msg.ack()
            return {"status": "ignored"}
        try:
            result = await asyncio.to_thread(self.install, shipped)
            self.models += 1
        except MicrofactoryError as exc:
            log.error("shipped model %s not installed: %s", shipped.get("name"), exc)
            result = {"status": "failed", "detail": str(exc)}
        await msg.ack()
        return result


def _accepted_order(message: str) -> str | None:
    marker = "already accepted as order "
    if marker in message:
        return message.split(marker, 1)[1].split()[0].strip(".,")
    return None


# -- hub: consuming -----------------------------------------------------------------------------


@dataclass
class HubCounters:
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    malformed: int = 0
    heartbeats: int = 0
    batches: int = 0
    waiting: int = 0
    store_errors: int = 0


@dataclass
class _Mark:
    epoch: str
    last_seq: int


@dataclass
class HubConsumer:
    """Applies fetched messages to the hub store, once each and in per-site order."""

    store: HubStore
    gap_timeout_s: float = 120.0
    counters: HubCounters = field(default_factory=HubCounters)
    clock: Callable[[], float] = time.monotonic
    ack_floor: int = 0
    """The consumer's acknowledgement floor when this process started (stream sequence)."""

    def __post_init__(self) -> None:
        self.frontier = self.ack_floor
        self._done: dict[int, Inbound] = {}
        self._frontier_stuck: float | None = None
        self.marks: dict[str, _Mark] = {}
        self.waiting: dict[str, dict[int, tuple[NetRecord, list[Inbound]]]] = {}
        self.hole_since: dict[str, float] = {}
        self._pending_gaps: list[tuple[str, str, int, int]] = []
        self.reload()

    def reload(self) -> None:
        self.marks = {
            s: _Mark(str(w.epoch), int(w.last_seq)) for s, w in self.store.watermarks().items()
        }
        self.waiting.clear()
        self.hole_since.clear()

    def sort(
        self, messages: Sequence[Inbound]
    ) -> tuple[list[NetRecord], list[dict[str, Any]], list[Inbound]]:
        """Decide what to apply now: (records in order, heartbeats, messages to acknowledge
        once the store committed)."""
        ready: list[NetRecord] = []
        beats: list[dict[str, Any]] = []
        acks: list[Inbound] = []
        touched: set[str] = set()
        for msg in messages:
            for line in msg.data.split(b"\n") if msg.subject.endswith(PACK_SUFFIX) else [msg.data]:
                try:
                    item = parse_record(line)
                except ValidationError as exc:
                    log.error("dropped on %s: %s", msg.subject, exc)
                    self.counters.malformed += 1
                    acks.append(msg)
                    continue
                if isinstance(item, dict):
                    beats.append(item)
                    acks.append(msg)
                    continue
                if self._admit(item, msg, acks):
                    touched.add(item.site)
        for site in sorted(touched | set(self.waiting)):
            ready.extend(self._drain(site, acks))
        self.counters.waiting = sum(len(w) for w in self.waiting.values())
        return ready, beats, acks

    def _admit(self, r: NetRecord, msg: Inbound, acks: list[Inbound]) -> bool:
        mark = self.marks.get(r.site)
        if mark is None or not mark.epoch:
            mark = self.marks[r.site] = _Mark(r.epoch, mark.last_seq if mark else 0)
        if r.epoch != mark.epoch:
            if r.seq != 1:
                # a record of another incarnation: wait only if it is the newer one's start
                log.warning("site %s: record %d of epoch %s ignored", r.site, r.seq, r.epoch)
                acks.append(msg)
                self.counters.duplicates += 1
                return False
            log.warning("site %s starts a new epoch %s", r.site, r.epoch)
            self.store.start_epoch(r.site, r.epoch)
            for _, msgs in self.waiting.pop(r.site, {}).values():
                acks.extend(msgs)
            mark = self.marks[r.site] = _Mark(r.epoch, 0)
        if r.seq <= mark.last_seq:
            self.counters.duplicates += 1
            acks.append(msg)
            return False
        held = self.waiting.setdefault(r.site, {})
        if r.seq in held:
            held[r.seq][1].append(msg)
        else:
            held[r.seq] = (r, [msg])
        return True

    def _drain(self, site: str, acks: list[Inbound]) -> list[NetRecord]:
        mark = self.marks[site]
        held = self.waiting.get(site, {})
        out: list[NetRecord] = []
        while held:
            nxt = mark.last_seq + 1
            if nxt in held:
                record, msgs = held.pop(nxt)
                out.append(record)
                acks.extend(msgs)
                mark.last_seq = nxt
                self.hole_since.pop(site, None)
                continue
            first = min(held)
            since = self.hole_since.setdefault(site, self.clock())
            if self.clock() - since < self.gap_timeout_s:
                break
            log.error("site %s: records %d..%d never came; recorded as a gap", site, nxt, first - 1)
            self._pending_gaps.append((site, mark.epoch, nxt, first - 1))
            self.counters.gaps += 1
            mark.last_seq = first - 1
            self.hole_since.pop(site, None)
        if not held:
            self.waiting.pop(site, None)
        return out

    def commit(self, ready: Sequence[NetRecord], beats: Sequence[dict[str, Any]]) -> int:
        """Store what `sort` made ready (runs in a worker thread)."""
        for gap in self._pending_gaps:
            self.store.record_gap(*gap)
        self._pending_gaps.clear()
        stored = self.store.apply(ready, beats) if (ready or beats) else 0
        self.counters.applied += stored
        self.counters.duplicates += len(ready) - stored
        self.counters.heartbeats += len(beats)
        self.counters.batches += 1
        return stored

    async def run(
        self, stop: asyncio.Event, fetch: Fetch, *, batch: int = 2000, wait_s: float = 0.5
    ) -> None:
        while not stop.is_set():
            try:
                messages = await fetch(batch, wait_s)
            except ConnectorError as exc:
                log.warning("hub fetch: %s", exc)
                await _sleep(stop, 0.5)
                continue
            if not messages and not self.waiting:
                continue
            ready, beats, acks = self.sort(messages)
            try:
                await asyncio.to_thread(self.commit, ready, beats)
            except MicrofactoryError as exc:
                log.error("hub store: %s; messages will be redelivered", exc)
                self.counters.store_errors += 1
                self.reload()
                await _sleep(stop, 1.0)
                continue
            except Exception:
                log.exception("hub store failed; messages will be redelivered")
                self.counters.store_errors += 1
                self.reload()
                await _sleep(stop, 1.0)
                continue
            await self.acknowledge(acks)

    async def acknowledge(self, acks: Sequence[Inbound]) -> None:
        """Acknowledge what is stored, with the consumer's ack-all policy (acknowledging
        stream sequence S acknowledges every message up to S, whoever it was delivered to).
        So the acknowledgement goes only up to the *frontier*: the highest S such that this
        process applied (or dropped as a duplicate) every message from the consumer's floor
        at its start up to S. A message held for its predecessor, or delivered to a hub
        process that died before storing it (redelivered after the ack wait), stops the
        frontier until it is stored. One ack per batch at most."""
        for m in acks:
            if m.stream_seq > self.frontier:
                self._done[m.stream_seq] = m
        start = self.frontier
        while self.frontier + 1 in self._done:
            self.frontier += 1
        if self.frontier == start and self._done:
            # stream sequences that never come (deleted from the stream by its limits):
            # after the gap timeout, step over them
            now = self.clock()
            if self._frontier_stuck is None:
                self._frontier_stuck = now
            elif now - self._frontier_stuck >= self.gap_timeout_s:
                log.warning("stream sequences %d..%d never came", start + 1, min(self._done) - 1)
                self.frontier = min(self._done)
                while self.frontier + 1 in self._done:
                    self.frontier += 1
        if self.frontier > start:
            self._frontier_stuck = None
            last = self._done[self.frontier]
            for seq in [q for q in self._done if q <= self.frontier]:
                del self._done[seq]
            await last.ack()


# -- hub: network quote and routing -----------------------------------------------------------


class QuoteLink(Protocol):
    async def scatter(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str],
        *,
        deadline_s: float,
        expected: int | None = None,
    ) -> Sequence[Any]: ...
    async def ensure_route_consumer(self, site: str) -> None: ...
    async def js_publish(self, subject: str, payload: bytes, msg_id: str) -> int: ...


class RouteStore(Protocol):
    def sites(self) -> list[dict[str, Any]]: ...
    def add_route(
        self, route_id: str, site: str, quote_id: str, customer: str | None, at: datetime
    ) -> None: ...


def recommend(offers: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The offer with the earliest promised date, then the lowest price, then by site."""
    if not offers:
        return None
    return min(offers, key=lambda o: (o["promised_date"], float(o["price"]), o["site"]))


@dataclass
class NetworkQuoter:
    link: QuoteLink
    store: RouteStore
    quote_subject: str = "mfrpc.quote"

    async def quote(
        self,
        model: bytes,
        filename: str,
        *,
        material: str,
        quantity: int,
        customer: str | None = None,
        deadline_s: float = 1.5,
    ) -> dict[str, Any]:
        if quantity < 1:
            raise ValidationError("quantity must be at least 1", where="quantity")
        if deadline_s <= 0:
            raise ValidationError("the deadline must be positive", where="deadline")
        known = sorted(s["site"] for s in await asyncio.to_thread(self.store.sites))
        request = new_id("NQ")
        headers = {
            "Mf-Request": request,
            "Mf-Material": material,
            "Mf-Quantity": str(quantity),
            "Mf-Filename": filename,
        }
        if customer:
            headers["Mf-Customer"] = customer
        began = time.monotonic()
        replies = await self.link.scatter(
            self.quote_subject,
            model,
            headers,
            deadline_s=deadline_s,
            expected=len(known) or None,
        )
        offers: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        answered: set[str] = set()
        for reply in replies:
            try:
                answer = json.loads(reply.data)
                site = str(answer["site"])
            except (ValueError, KeyError, TypeError):
                continue
            answered.add(site)
            if not answer.get("ok"):
                refused.append({"site": site, "error": str(answer.get("error", ""))})
                continue
            o = answer["offer"]
            offers.append(
                {
                    "site": site,
                    "quote_id": o.get("quote_id"),
                    "price": o["price"],
                    "currency": o.get("currency"),
                    "promised_date": o["promised_date"],
                    "promise_basis": o.get("promise_basis"),
                    "machine": o.get("machine"),
                    "process": o.get("process"),
                    "machine_hours": o.get("machine_hours"),
                    "expires_at": o.get("expires_at"),
                    "seconds": round(reply.seconds, 4),
                }
            )
        offers.sort(key=lambda o: (o["promised_date"], float(o["price"]), o["site"]))
        missing = [
            {"site": s, "reason": f"no answer within {deadline_s:g} s"}
            for s in known
            if s not in answered
        ]
        return {
            "request": request,
            "model": filename,
            "material": material,
            "quantity": quantity,
            "deadline_s": deadline_s,
            "seconds": round(time.monotonic() - began, 4),
            "offers": offers,
            "recommended": recommend(offers),
            "refused": refused,
            "missing": missing,
        }

    async def ship_model(self, site: str, model: dict[str, Any]) -> int:
        """Send a trained model to a site over its durable subject (taken when it is up)."""
        await self.link.ensure_route_consumer(site)
        body = json.dumps({"kind": "model", **model}).encode()
        msg_id = f"model:{site}:{model['name']}:{model['version']}"
        return await self.link.js_publish(f"mfroute.{site}", body, msg_id=msg_id)

    async def route(
        self, site: str, quote_id: str, customer: str | None, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """Send an accepted offer to its site over the durable route subject."""
        route_id = new_id("RT")
        at = now or datetime.now(UTC)
        await asyncio.to_thread(self.store.add_route, route_id, site, quote_id, customer, at)
        await self.link.ensure_route_consumer(site)
        body = {"route_id": route_id, "quote_id": quote_id, "customer": customer, "at": str(at)}
        stream_seq = await self.link.js_publish(
            f"mfroute.{site}", json.dumps(body).encode(), msg_id=route_id
        )
        return {"route_id": route_id, "site": site, "quote_id": quote_id, "stream_seq": stream_seq}


# -- hub: status ---------------------------------------------------------------------------------


def network_status(store: HubStore) -> dict[str, Any]:
    """`{"sites": [{"site", "last_event_at", "lag_events", "events", ...}]}`."""
    out = []
    for s in store.sites():
        last = s.get("last_event_at")
        out.append(
            {
                "site": s["site"],
                "last_event_at": None if last is None else last.isoformat(),
                "lag_events": max(0, int(s["head_seq"]) - int(s["last_seq"])),
                "events": int(s["events"]),
                "last_seq": int(s["last_seq"]),
                "head_seq": int(s["head_seq"]),
                "duplicates_dropped": int(s["duplicates"]),
                "gaps": int(s["gaps"]),
                "site_backlog": int(s["backlog"]),
                "last_heartbeat_at": (
                    None
                    if s.get("last_heartbeat_at") is None
                    else s["last_heartbeat_at"].isoformat()
                ),
            }
        )
    return {"sites": out}


FLEET_VIEWS = ("orders", "plans", "machines", "oee", "alerts", "quotes", "routes", "gaps")


class FleetReader(Protocol):
    """Port: the read side of the hub's fleet view."""

    def sites(self) -> list[dict[str, Any]]: ...
    def table(
        self, name: str, site: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]: ...
    def counts_by_kind(self, site: str | None = None) -> dict[str, dict[str, int]]: ...


class NetworkHub(FleetReader, RouteStore, Protocol):
    """Port: what the hub's API reads and writes (`SqlHubStore`)."""


def fleet_view(store: FleetReader, name: str, site: str | None, limit: int) -> list[dict[str, Any]]:
    """One table of the fleet view (orders, plans, machines, OEE inputs per day, quality
    alerts and NCRs, quotes, routed orders, gaps), optionally of one site."""
    if name not in FLEET_VIEWS:
        raise ValidationError(
            f"unknown view {name!r}; one of {', '.join(FLEET_VIEWS)}", where="view"
        )
    return store.table(name, site=site, limit=limit)


def fleet_overview(store: FleetReader) -> dict[str, Any]:
    """Per site: status, records by kind, machines by state, OEE inputs in total, open
    quality alerts — the network overview."""
    status = {s["site"]: s for s in network_status(store)["sites"]}  # type: ignore[arg-type]
    kinds = store.counts_by_kind()
    out = []
    for site, st in sorted(status.items()):
        machines = store.table("machines", site=site)
        oee = store.table("oee", site=site, limit=100_000)
        states: dict[str, int] = {}
        for m in machines:
            states[str(m["state"])] = states.get(str(m["state"]), 0) + 1
        run = sum(r["executing_s"] for r in oee)
        planned = run + sum(r["not_executing_s"] + r["out_of_service_s"] for r in oee)
        good = sum(r["good"] for r in oee)
        made = good + sum(r["reject"] for r in oee)
        out.append(
            {
                **st,
                "records": kinds.get(site, {}),
                "machines": len(machines),
                "machine_states": states,
                "availability": None if planned == 0 else round(run / planned, 4),
                "quality_ratio": None if made == 0 else round(good / made, 4),
                "orders": len(store.table("orders", site=site, limit=100_000)),
                "quality_alerts": len(store.table("alerts", site=site, limit=100_000)),
            }
        )
    return {"sites": out}
