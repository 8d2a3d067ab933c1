"""End-to-end acknowledgement: the edge buffer forgets an event only when the store has it
(a receipt from the ingester after its commit), never on the broker's acknowledgement alone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from microfactory.connect.bus import InProcessBus, Message
from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.receipts import receipt_payloads, receipt_topic
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import sample_batch, state_event


def stream(n: int, machine: str = "m1") -> list[Event]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        state_event(machine, i, ts=now) if i % 10 == 0 else sample_batch(machine, i, ts=now)
        for i in range(n)
    ]


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_edge_forgets_what_the_store_confirmed_in_process(
    tmp_path: Path, sqlite_store: SqlTelemetryStore
) -> None:
    bus = InProcessBus()
    ingester = Ingester(
        sqlite_store,
        clock=SystemClock(),
        known_machines={"m1"},
        settings=IngestSettings(max_delay_s=0.02),
    )
    ingester.attach(bus)
    ingester.start()
    edge = EdgePublisher(bus, EdgeBuffer(tmp_path / "edge.db"), site="p", area="a", chunk=40)
    events = stream(200)
    stranger = sample_batch("m9", 0)  # refused (unknown machine), yet handled for good
    try:
        edge.publish_many([*events, stranger])
        assert edge.wait_empty(30)
    finally:
        edge.close()
        ingester.stop()
    counts = sqlite_store.counts()
    assert (counts["events"], counts["dead_letters"], counts["missing"]) == (200, 1, 0)
    assert (edge.confirmed, edge.resent) == (201, 0)
    assert ingester.counters.receipts >= 1


@pytest.fixture
def broker(mqtt_broker: tuple[str, int]) -> tuple[str, int]:
    return mqtt_broker


def consumer(
    store: SqlTelemetryStore, broker: tuple[str, int], root: str, **settings: object
) -> tuple[Ingester, MqttBus]:
    ingester = Ingester(
        store,
        clock=SystemClock(),
        known_machines={"m1"},
        settings=IngestSettings(root=root, max_delay_s=0.02, **settings),  # type: ignore[arg-type]
    )
    bus = MqttBus(
        MqttSettings(
            host=broker[0], port=broker[1], session_expiry_s=60, client_id=f"ingest-{root}"
        )
    )
    ingester.start()
    ingester.attach(bus)
    return ingester, bus


@pytest.fixture
def edge(tmp_path: Path, broker: tuple[str, int], root: str) -> Iterator[EdgePublisher]:
    bus = MqttBus(
        MqttSettings(host=broker[0], port=broker[1], session_expiry_s=60, client_id=f"edge-{root}")
    )
    publisher = EdgePublisher(
        bus, EdgeBuffer(tmp_path / "edge.db"), site="p", area="a", root=root, resend_after_s=1.0
    )
    yield publisher
    publisher.close()
    bus.close()


@pytest.mark.mqtt
def test_broker_acknowledgement_alone_deletes_nothing(
    edge: EdgePublisher, sqlite_store: SqlTelemetryStore, broker: tuple[str, int], root: str
) -> None:
    # the consumer's session exists, but the consumer is away: the broker queues and acks
    ingester, bus = consumer(sqlite_store, broker, root)
    bus.close()
    ingester.stop()
    edge.publish_many(stream(100))
    assert wait_until(lambda: edge.sent >= 100 and edge.bus.flush(0.1), 20)
    time.sleep(0.5)
    assert len(edge.buffer) == 100  # acknowledged by the broker, not stored: kept
    ingester, bus = consumer(sqlite_store, broker, root)
    try:
        assert edge.wait_empty(30)
    finally:
        bus.close()
        ingester.stop()
    counts = sqlite_store.counts()
    assert (counts["events"], counts["missing"]) == (100, 0)


@pytest.mark.mqtt
def test_events_without_a_receipt_are_sent_again_and_stored_once(
    edge: EdgePublisher, store: SqlTelemetryStore, broker: tuple[str, int], root: str
) -> None:
    """A consumer that stores but sends no receipts (an older ingester, or receipts lost):
    the edge sends the events again; once receipts come, the buffer empties, and the store
    holds each event once."""
    silent, bus = consumer(store, broker, root, receipts=False)
    events = stream(150)
    try:
        edge.publish_many(events)
        assert wait_until(lambda: store.counts()["events"] == 150 and edge.resent > 0, 30)
        assert len(edge.buffer) == 150
    finally:
        bus.close()
        silent.stop()
    answering, bus = consumer(store, broker, root)
    try:
        assert edge.wait_empty(30)
    finally:
        bus.close()
        answering.stop()
    counts = store.counts()
    assert (counts["events"], counts["missing"]) == (150, 0)
    assert answering.counters.duplicates > 0


@pytest.mark.mqtt
def test_stale_forged_or_broken_receipts_delete_nothing(
    edge: EdgePublisher, broker: tuple[str, int], root: str
) -> None:
    edge.publish_many(stream(5))
    assert wait_until(lambda: edge.sent >= 5, 10)
    other = MqttBus(
        MqttSettings(host=broker[0], port=broker[1], session_expiry_s=60, client_id=f"x-{root}")
    )
    try:
        wrong_epoch = [bytes(8) + i.to_bytes(8, "big") + i.to_bytes(8, "big") for i in range(1, 9)]
        for body in [*receipt_payloads(wrong_epoch), b"{not a receipt", b'{"v":1,"done":"x"}']:
            other.publish(edge.receipt_topic, body)
        assert other.flush(10)
        assert wait_until(lambda: edge.bad_receipts == 2, 10)
    finally:
        other.close()
    assert len(edge.buffer) == 5


@pytest.mark.mqtt
def test_ingester_answers_receipt_requests_only_on_receipt_topics(
    sqlite_store: SqlTelemetryStore, broker: tuple[str, int], root: str
) -> None:
    ingester, bus = consumer(sqlite_store, broker, root)
    heard: list[Message] = []
    spy = MqttBus(
        MqttSettings(host=broker[0], port=broker[1], session_expiry_s=60, client_id=f"spy-{root}")
    )
    spy.subscribe(f"{root}/#", lambda m: (heard.append(m), spy.ack(m)))
    pub = MqttBus(
        MqttSettings(host=broker[0], port=broker[1], session_expiry_s=60, client_id=f"p-{root}")
    )
    machine_topic = topic_for("p", "a", "m1", "state", root)
    honest = receipt_topic("p", "edge-1", root)
    try:
        a, b = stream(2)
        pub.publish(topic_for("p", "a", "m1", a.kind, root), a.to_json(), reply_to=machine_topic,
                    correlation=b"\x01")  # fmt: skip
        pub.publish(topic_for("p", "a", "m1", b.kind, root), b.to_json(), reply_to=honest,
                    correlation=b"\x02")  # fmt: skip
        assert pub.flush(10)
        assert wait_until(lambda: any(m.topic == honest for m in heard), 10)
    finally:
        pub.close()
        bus.close()
        ingester.stop()
        spy.close()
    assert ingester.counters.receipt_errors == 1
    assert [m.payload for m in heard if m.topic == honest] == receipt_payloads([b"\x02"])
    assert [m.topic for m in heard if m.topic == machine_topic] == [machine_topic]  # only a's own


class LossyLink:
    """A test rig: the edge's bus and the store's bus joined by a relay that loses the first
    copy of chosen events on the way (as a crashing broker would) and carries receipts back."""

    def __init__(self, lose_seqs: set[int]) -> None:
        self.edge_side, self.store_side = InProcessBus(), InProcessBus()
        self.lose = set(lose_seqs)
        self.lost = 0
        self.edge_side.subscribe("microfactory/v1/+/+/+/+", self._forward)
        self.store_side.subscribe("microfactory/v1/+/_receipts/+", self._back)

    def _forward(self, m: Message) -> None:
        seq = json.loads(m.payload)["seq"]
        if seq in self.lose:
            self.lose.discard(seq)
            self.lost += 1
            return
        self.store_side.publish(m.topic, m.payload, reply_to=m.reply_to, correlation=m.correlation)

    def _back(self, m: Message) -> None:
        self.edge_side.publish(m.topic, m.payload)


def test_edge_sends_again_at_once_what_was_lost_before_a_confirmed_event(
    tmp_path: Path, sqlite_store: SqlTelemetryStore
) -> None:
    link = LossyLink({5, 6, 30})
    ingester = Ingester(
        sqlite_store, clock=SystemClock(), settings=IngestSettings(max_delay_s=0.02)
    )
    ingester.attach(link.store_side)
    ingester.start()
    edge = EdgePublisher(
        link.edge_side, EdgeBuffer(tmp_path / "e.db"), site="p", area="a", chunk=10,
        resend_after_s=600.0,  # the probe timer cannot be what recovers them here
    )  # fmt: skip
    try:
        edge.publish_many(stream(50))
        assert edge.wait_empty(20)
    finally:
        edge.close()
        ingester.stop()
    assert (link.lost, edge.resent) == (3, 3)
    assert sqlite_store.counts()["events"] == 50


def test_a_consumer_that_is_away_is_probed_not_flooded(tmp_path: Path) -> None:
    """Nothing comes back for a while: the edge re-sends only its oldest chunk now and then
    (1 s, then 2 s, ...), not everything in flight each time."""
    bus = InProcessBus()
    seen: list[bytes] = []
    bus.subscribe("microfactory/v1/+/+/+/+", lambda m: seen.append(m.payload))
    edge = EdgePublisher(
        bus, EdgeBuffer(tmp_path / "e.db"), site="p", area="a", chunk=20, resend_after_s=0.5
    )
    try:
        edge.publish_many(stream(200))
        time.sleep(2.5)  # probes at about 0.5 s and 1.5 s
    finally:
        edge.close()
    assert 20 <= edge.resent <= 60
    assert len(seen) == 200 + edge.resent
    assert len(edge.buffer) == 200  # and nothing was forgotten
