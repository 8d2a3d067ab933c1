"""The edge buffer (bounded, persistent, ordered) and store-and-forward publishing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from microfactory.connect.bus import InProcessBus, Message
from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.errors import ConnectorError
from microfactory.shopfloor.events import parse_event
from microfactory.shopfloor.topics import subscription

from .conftest import free_port, sample_batch, state_event


def test_buffer_is_fifo_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    buffer = EdgeBuffer(path)
    buffer.put_many([(f"t/{i}", f"p{i}".encode(), False) for i in range(5)])
    buffer.remove_through(buffer.peek(2)[-1].id)
    buffer.close()
    again = EdgeBuffer(path)
    assert [(b.topic, b.payload) for b in again.peek(10)] == [
        (f"t/{i}", f"p{i}".encode()) for i in range(2, 5)
    ]
    assert len(again) == 3


def test_sequence_numbers_continue_after_reopening(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "edge.db")
    assert [buffer.next_seq("m1") for _ in range(3)] == [0, 1, 2]
    assert buffer.next_seq("m2") == 0
    buffer.close()
    assert EdgeBuffer(tmp_path / "edge.db").next_seq("m1") == 3


def test_full_buffer_drops_oldest_samples_first_and_counts_them(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "edge.db", max_events=4)
    buffer.put_many(
        [("s", b"s0", True), ("x", b"x0", False), ("s", b"s1", True), ("x", b"x1", False)]
    )
    buffer.put_many([("x", b"x2", False), ("x", b"x3", False)])
    assert [b.payload for b in buffer.peek(10)] == [b"x0", b"x1", b"x2", b"x3"]
    assert buffer.dropped == 2


def test_full_buffer_of_non_samples_drops_the_oldest(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "edge.db", max_events=2)
    buffer.put_many([("x", f"x{i}".encode(), False) for i in range(3)])
    assert [b.payload for b in buffer.peek(10)] == [b"x1", b"x2"]
    assert buffer.dropped == 1


def test_buffer_refuses_a_zero_bound(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_events"):
        EdgeBuffer(tmp_path / "edge.db", max_events=0)


def test_publisher_forwards_everything_in_order(tmp_path: Path) -> None:
    bus = InProcessBus()
    got: list[Message] = []
    bus.subscribe("microfactory/#", got.append)
    publisher = EdgePublisher(
        bus, EdgeBuffer(tmp_path / "edge.db"), site="p", area="a", confirm="broker"
    )
    events = [sample_batch("m1", i) for i in range(50)]
    publisher.publish_many(events[:25])
    for e in events[25:]:
        publisher.publish(e)
    assert publisher.wait_empty(10)
    publisher.close()
    assert [parse_event(m.payload).seq for m in got] == list(range(50))


@pytest.mark.mqtt
def test_broker_unreachable_then_reachable_delivers_in_order(
    tmp_path: Path, mqtt_broker: tuple[str, int], root: str
) -> None:
    host, port = mqtt_broker
    buffer_path = tmp_path / "edge.db"
    # 1. the edge points at a dead port: everything waits in the buffer
    dead = MqttBus(
        MqttSettings(
            host="127.0.0.1", port=free_port(), session_expiry_s=60, client_id=f"edge-{root}"
        ),
        connect_timeout=None,
    )
    offline = EdgePublisher(
        dead, EdgeBuffer(buffer_path), site="p", area="a", root=root, confirm="broker"
    )
    events = [state_event("m1", i) if i % 10 == 0 else sample_batch("m1", i) for i in range(300)]
    offline.publish_many(events)
    time.sleep(0.3)
    assert len(offline.buffer) == 300
    offline.close()
    dead.close()
    offline.buffer.close()
    # 2. then at the broker: the buffer drains, in order, to a subscriber
    received: list[int] = []
    sub = MqttBus(MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"sub-{root}"))
    sub.subscribe(
        subscription(root), lambda m: (received.append(parse_event(m.payload).seq), sub.ack(m))
    )
    live = MqttBus(
        MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"edge-{root}")
    )
    online = EdgePublisher(
        live, EdgeBuffer(buffer_path), site="p", area="a", root=root, confirm="broker"
    )
    assert online.wait_empty(30)
    deadline = time.monotonic() + 10
    while len(received) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    online.close()
    live.close()
    sub.close()
    assert received == list(range(300))


def test_publisher_window_bounds_unacknowledged_messages(root: str) -> None:
    """Flow control: with nobody acknowledging, the third publish of a window of 2 blocks and
    then fails loudly instead of queueing without limit."""
    bus = MqttBus(
        MqttSettings(
            host="127.0.0.1",
            port=free_port(),
            client_id=f"pub-{root}",
            window=2,
            publish_timeout=0.3,
        ),
        connect_timeout=None,
    )
    try:
        bus.publish(f"{root}/v1/p/a/m1/state", b"1")
        bus.publish(f"{root}/v1/p/a/m1/state", b"2")
        assert bus.in_flight == 2
        with pytest.raises(ConnectorError, match="acknowledged nothing"):
            bus.publish(f"{root}/v1/p/a/m1/state", b"3")
        assert not bus.flush(0.1)
    finally:
        bus.close()
