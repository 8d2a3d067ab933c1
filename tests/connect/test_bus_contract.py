"""One contract, three buses: in-process, MQTT (the real Mosquitto) and OPC UA (the asyncua
simulator, written through the gateway side and read through subscriptions)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from microfactory.connect.bus import Bus, InProcessBus, Message, publish_event
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.connect.opcua import OpcUaBus, OpcUaSettings
from microfactory.shopfloor.events import (
    Event,
    PartCounter,
    Sample,
    SampleBatch,
    StateChanged,
    parse_event,
)
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import parse_topic, subscription

from .conftest import T0

SITE, AREA = "plant", "cell"


@dataclass
class Inbox:
    """Collects messages delivered to a handler (thread-safe) and acknowledges them."""

    bus: Bus
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)
        self.bus.ack(message)

    def events(self) -> list[Event]:
        with self.lock:
            return [parse_event(m.payload) for m in self.messages]

    def wait_for(self, check: Callable[[list[Event]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.events()):
                return True
            time.sleep(0.02)
        return check(self.events())


@dataclass
class Pair:
    publisher: Bus
    subscriber: Bus
    root: str


@pytest.fixture(params=["memory", pytest.param("mqtt", marks=pytest.mark.mqtt), "opcua"])
def pair(request: pytest.FixtureRequest, root: str) -> Iterator[Pair]:
    kind = request.param
    if kind == "memory":
        bus = InProcessBus()
        yield Pair(bus, bus, root)
        bus.close()
    elif kind == "mqtt":
        host, port = request.getfixturevalue("mqtt_broker")
        sub = MqttBus(
            MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"sub-{root}")
        )
        pub = MqttBus(
            MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"pub-{root}")
        )
        yield Pair(pub, sub, root)
        pub.close()
        sub.close()
    else:
        endpoint, _sim = request.getfixturevalue("opcua_sim")
        settings = OpcUaSettings(endpoint=endpoint, site=SITE, area=AREA, root=root)
        sub = OpcUaBus(settings)
        pub = OpcUaBus(settings)
        yield Pair(pub, sub, root)
        pub.close()
        sub.close()


def _id() -> str:
    return uuid.uuid4().hex


def test_state_change_reaches_a_subscriber_of_that_machine(pair: Pair) -> None:
    inbox = Inbox(pair.subscriber)
    pair.subscriber.subscribe(subscription(pair.root, machine="m1"), inbox)
    event = StateChanged(
        event_id=_id(),
        machine="m1",
        seq=0,
        ts=T0,
        state=MachineState.OUT_OF_SERVICE,
        mode=MachineMode.MAINTENANCE,
        reason=f"r{_id()[:6]}",
    )
    publish_event(pair.publisher, event, site=SITE, area=AREA, root=pair.root)
    assert inbox.wait_for(
        lambda evs: any(
            isinstance(e, StateChanged)
            and e.reason == event.reason
            and e.state is MachineState.OUT_OF_SERVICE
            and e.mode is MachineMode.MAINTENANCE
            for e in evs
        )
    )


def test_subscriber_of_one_machine_sees_nothing_of_another(pair: Pair) -> None:
    inbox = Inbox(pair.subscriber)
    pair.subscriber.subscribe(subscription(pair.root, machine="m1"), inbox)
    value = float(int(_id()[:6], 16) % 1000)
    other = SampleBatch(
        event_id=_id(),
        machine="m2",
        seq=0,
        ts=T0,
        samples=[Sample(signal="temp", value=value, unit="C")],
    )
    mine = SampleBatch(
        event_id=_id(),
        machine="m1",
        seq=0,
        ts=T0,
        samples=[Sample(signal="temp", value=value + 0.5, unit="C")],
    )
    publish_event(pair.publisher, other, site=SITE, area=AREA, root=pair.root)
    publish_event(pair.publisher, mine, site=SITE, area=AREA, root=pair.root)
    assert inbox.wait_for(
        lambda evs: any(
            isinstance(e, SampleBatch) and e.samples[0].value == value + 0.5 for e in evs
        )
    )
    assert all(e.machine == "m1" for e in inbox.events())


def test_part_counts_arrive_as_increments(pair: Pair) -> None:
    inbox = Inbox(pair.subscriber)
    pair.subscriber.subscribe(subscription(pair.root, machine="m2"), inbox)
    publish_event(
        pair.publisher,
        PartCounter(event_id=_id(), machine="m2", seq=0, ts=T0, good=3, reject=1),
        site=SITE,
        area=AREA,
        root=pair.root,
    )

    def totals(evs: list[Event]) -> tuple[int, int]:
        counters = [e for e in evs if isinstance(e, PartCounter)]
        return sum(c.good for c in counters), sum(c.reject for c in counters)

    assert inbox.wait_for(lambda evs: totals(evs) == (3, 1))


def test_sample_value_and_unit_arrive(pair: Pair) -> None:
    inbox = Inbox(pair.subscriber)
    pair.subscriber.subscribe(subscription(pair.root, machine="m1"), inbox)
    value = 20 + int(_id()[:4], 16) % 100 / 4
    publish_event(
        pair.publisher,
        SampleBatch(
            event_id=_id(),
            machine="m1",
            seq=0,
            ts=T0,
            samples=[Sample(signal="temp", value=value, unit="C")],
        ),
        site=SITE,
        area=AREA,
        root=pair.root,
    )
    assert inbox.wait_for(
        lambda evs: any(
            isinstance(e, SampleBatch)
            and (e.samples[0].signal, e.samples[0].value, e.samples[0].unit) == ("temp", value, "C")
            for e in evs
        )
    )


def test_delivered_payloads_match_their_topics(pair: Pair) -> None:
    inbox = Inbox(pair.subscriber)
    pair.subscriber.subscribe(subscription(pair.root), inbox)
    publish_event(
        pair.publisher,
        StateChanged(
            event_id=_id(),
            machine="m1",
            seq=0,
            ts=T0,
            state=MachineState.EXECUTING,
            mode=MachineMode.SETUP,
        ),
        site=SITE,
        area=AREA,
        root=pair.root,
    )
    assert inbox.wait_for(lambda evs: len(evs) > 0)
    for m in list(inbox.messages):
        topic = parse_topic(m.topic, pair.root)
        event = parse_event(m.payload)
        assert (topic.machine, topic.kind) == (event.machine, event.kind)


def test_close_is_idempotent_and_flush_reports_done(pair: Pair) -> None:
    assert pair.publisher.flush(5.0)
    pair.publisher.close()
    pair.publisher.close()


# Lossless transports (in-process and MQTT): every message, once, in order, byte for byte ------


@pytest.fixture(params=["memory", pytest.param("mqtt", marks=pytest.mark.mqtt)])
def lossless(request: pytest.FixtureRequest, root: str) -> Iterator[Pair]:
    if request.param == "memory":
        bus = InProcessBus()
        yield Pair(bus, bus, root)
        bus.close()
        return
    host, port = request.getfixturevalue("mqtt_broker")
    sub = MqttBus(MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"sub-{root}"))
    pub = MqttBus(
        MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"pub-{root}", window=16)
    )
    yield Pair(pub, sub, root)
    pub.close()
    sub.close()


def test_every_message_arrives_once_in_order(lossless: Pair) -> None:
    inbox = Inbox(lossless.subscriber)
    lossless.subscriber.subscribe(f"{lossless.root}/#", inbox)
    sent = [
        (f"{lossless.root}/v1/{SITE}/{AREA}/m1/sample", f"payload-{i}".encode()) for i in range(300)
    ]
    for topic, payload in sent:
        lossless.publisher.publish(topic, payload)
    assert lossless.publisher.flush(10.0)
    deadline = time.monotonic() + 10
    while len(inbox.messages) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(m.topic, m.payload) for m in inbox.messages] == sent


def test_garbage_bytes_are_delivered_unchanged(lossless: Pair) -> None:
    got: list[bytes] = []
    lossless.subscriber.subscribe(f"{lossless.root}/#", lambda m: got.append(m.payload))
    garbage = b"\xff\x00{not json"
    lossless.publisher.publish(f"{lossless.root}/v1/{SITE}/{AREA}/m1/state", garbage)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got == [garbage]
