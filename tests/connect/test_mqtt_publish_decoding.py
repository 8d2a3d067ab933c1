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
