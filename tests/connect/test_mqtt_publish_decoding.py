"""The MQTT bus's lean PUBLISH decoder and paho's own path deliver the same messages.

A plain QoS 1 PUBLISH without properties takes the lean decoder; one with MQTT v5 properties
(here a user property) or with QoS 0 takes paho's path. Both must arrive with topic, payload
and, for QoS 1, an acknowledgement token."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from microfactory.connect.bus import Message
from microfactory.connect.mqtt import MqttBus, MqttSettings

pytestmark = pytest.mark.mqtt


def test_publishes_with_and_without_properties_arrive_alike(
    mqtt_broker: tuple[str, int], root: str
) -> None:
    host, port = mqtt_broker
    got: list[Message] = []
    done = threading.Event()

    def handler(message: Message) -> None:
        got.append(message)
        bus.ack(message)
        if len(got) == 4:
            done.set()

    bus = MqttBus(MqttSettings(host=host, port=port, client_id=f"dec-{root}", session_expiry_s=60))
    bus.subscribe(f"{root}/#", handler)
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{root}", protocol=mqtt.MQTTv5)
    raw.connect(host, port)
    raw.loop_start()
    try:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = ("origin", "test")
        raw.publish(f"{root}/plain", b"one", qos=1).wait_for_publish(10)
        raw.publish(f"{root}/props", b"two", qos=1, properties=props).wait_for_publish(10)
        raw.publish(f"{root}/qos0", b"three", qos=0).wait_for_publish(10)
        raw.publish(f"{root}/empty", b"", qos=1).wait_for_publish(10)
        assert done.wait(10)
    finally:
        raw.loop_stop()
        raw.disconnect()
        time.sleep(0.1)
        bus.close()
    by_topic = {m.topic.rsplit("/", 1)[1]: m for m in got}
    assert {k: m.payload for k, m in by_topic.items()} == {
        "plain": b"one",
        "props": b"two",
        "qos0": b"three",
        "empty": b"",
    }
    assert by_topic["plain"].token > 0 and by_topic["props"].token > 0
    assert by_topic["qos0"].token == 0


def test_receipt_request_properties_arrive_on_both_decoding_paths(
    mqtt_broker: tuple[str, int], root: str
) -> None:
    """Response Topic + Correlation Data (a store-receipt request) take the lean decoder;
    with one more property (a user property) paho's path; both deliver them unchanged."""
    host, port = mqtt_broker
    got: dict[str, Message] = {}
    done = threading.Event()

    def handler(message: Message) -> None:
        got[message.topic.rsplit("/", 1)[1]] = message
        bus.ack(message)
        if len(got) == 3:
            done.set()

    bus = MqttBus(MqttSettings(host=host, port=port, client_id=f"dec-{root}", session_expiry_s=60))
    bus.subscribe(f"{root}/#", handler)
    pub = MqttBus(MqttSettings(host=host, port=port, client_id=f"pub-{root}", session_expiry_s=60))
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{root}", protocol=mqtt.MQTTv5)
    raw.connect(host, port)
    raw.loop_start()
    token = bytes(range(16))
    try:
        pub.publish(f"{root}/lean", b"a", reply_to=f"{root}/r/lean", correlation=token)
        pub.publish(f"{root}/topic-only", b"b", reply_to=f"{root}/r/t")
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = f"{root}/r/paho"
        props.CorrelationData = token[::-1]
        props.UserProperty = ("origin", "test")
        raw.publish(f"{root}/paho", b"c", qos=1, properties=props).wait_for_publish(10)
        assert pub.flush(10)
        assert done.wait(10)
    finally:
        raw.loop_stop()
        raw.disconnect()
        pub.close()
        time.sleep(0.1)
        bus.close()
    assert [(got[k].payload, got[k].reply_to, got[k].correlation) for k in sorted(got)] == [
        (b"a", f"{root}/r/lean", token),
        (b"c", f"{root}/r/paho", token[::-1]),
        (b"b", f"{root}/r/t", b""),
    ]
    assert all(m.token > 0 for m in got.values())


def _publish_body(props: bytes, payload: bytes) -> bytes:
    topic = b"t/x"
    return len(topic).to_bytes(2, "big") + topic + (7).to_bytes(2, "big") + props + payload


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        # (property section after the packet id, what the lean reader returns) — one per case
        (b"\x00", ("", b"", b"P")),  # none at all
        (b"\x06\x08\x00\x03r/1", ("r/1", b"", b"P")),  # response topic
        (b"\x0b\x08\x00\x01r\x09\x00\x04\x00\x01\x02\x03", ("r", b"\x00\x01\x02\x03", b"P")),
        (b"\x05\x26\x00\x01a", None),  # a user property: paho's path
        (b"\x06\x08\x00\x09r", None),  # a string longer than the section: paho reports it
        (b"\x05\x08\x00\x02\xff\xfe", None),  # response topic not UTF-8
    ],
)
def test_lean_property_reader(props: bytes, expected: tuple[str, bytes, bytes] | None) -> None:
    from microfactory.connect.mqtt import _lean_properties

    body = _publish_body(props, b"P")
    found = _lean_properties(body, 7)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found[0], found[1], body[found[2] :]) == expected
