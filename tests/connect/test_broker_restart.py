"""A broker restart in the middle of a stream: the edge publisher buffers while the broker is
down and reconnects by itself, and the consumer's persistent session, saved by the broker
across the restart, delivers everything in order when the consumer returns."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.shopfloor.events import parse_event
from microfactory.shopfloor.topics import subscription

from .conftest import free_port, sample_batch

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
REPO_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "microfactory.conf"
pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="mosquitto not installed")


class Broker:
    """A Mosquitto with the repository's recommended configuration on a fixed port and
    persistence directory, so that it can be stopped and started again."""

    def __init__(self, port: int) -> None:
        # mosquitto started as root saves as its own user: the directory (and its parents,
        # which pytest's tmp_path does not open to others) must be writable by that user
        tmp = Path(tempfile.mkdtemp(prefix="mf-mosq-"))
        tmp.chmod(0o777)
        self.tmp = tmp
        lines = [
            line
            for line in REPO_CONF.read_text().splitlines()
            if not line.startswith(("listener ", "persistence_location", "log_dest"))
        ]
        lines += [f"listener {port} 127.0.0.1", f"persistence_location {tmp}/"]
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.proc.wait(10)
            self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def test_broker_restart_mid_stream_loses_nothing_and_keeps_order(tmp_path: Path, root: str) -> None:
    broker = Broker(free_port())
    broker.start()
    received: list[int] = []
    sub_settings = MqttSettings(port=broker.port, client_id=f"sub-{root}")
    # the consumer's persistent session exists, then the consumer is away for the whole story
    first = MqttBus(sub_settings)
    first.subscribe(subscription(root), lambda m: None)
    first.close()
    edge_bus = MqttBus(MqttSettings(port=broker.port, client_id=f"edge-{root}"))
    edge = EdgePublisher(
        edge_bus, EdgeBuffer(tmp_path / "edge.db"), site="p", area="a", root=root, confirm="broker"
    )
    sub: MqttBus | None = None
    try:
        edge.publish_many([sample_batch("m1", i) for i in range(100)])
        assert edge.wait_empty(20)  # queued by the broker for the absent consumer
        broker.stop()  # the broker goes away (saving its sessions and queues) ...
        edge.publish_many([sample_batch("m1", i) for i in range(100, 300)])
        time.sleep(0.5)
        assert len(edge.buffer) > 0  # ... and the edge keeps what it cannot send
        broker.start()
        assert edge.wait_empty(30)  # the edge reconnected by itself and drained its buffer
        sub = MqttBus(sub_settings)  # the consumer comes back
        sub.subscribe(
            subscription(root),
            lambda m: (received.append(parse_event(m.payload).seq), sub.ack(m) if sub else None),
        )
        deadline = time.monotonic() + 20
        while len(set(received)) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        edge.close()
        edge_bus.close()
        if sub is not None:
            sub.close()
        broker.remove()
    assert sorted(set(received)) == list(range(300))
    first_seen = list(dict.fromkeys(received))  # redeliveries may repeat, never reorder
    assert first_seen == list(range(300))
