"""Reliability against the real Mosquitto and both stores: replay, crash, garbage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from microfactory.connect.bus import publish_event
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import sample_batch, state_event

pytestmark = pytest.mark.mqtt


def stream(n: int, machine: str = "m1") -> list[Event]:
    from datetime import UTC, datetime

    now = datetime.now(UTC).replace(microsecond=0)
    return [
        state_event(machine, i, ts=now)
        if i % 25 == 0
        else sample_batch(machine, i, values=(1.0, 2.0, 3.0), ts=now)
        for i in range(n)
    ]


def wait_until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(check())  # type: ignore[operator]


@pytest.fixture
def consumer(
    store: SqlTelemetryStore, mqtt_broker: tuple[str, int], root: str
) -> Iterator[Ingester]:
    host, port = mqtt_broker
    ingester = Ingester(
        store,
        clock=SystemClock(),
        known_machines={"m1", "m2"},
        settings=IngestSettings(root=root, max_delay_s=0.02),
    )
    bus = MqttBus(
        MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"ingest-{root}")
    )
    ingester.start()
    ingester.attach(bus)
    yield ingester
    bus.close()
    ingester.stop()


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int], root: str) -> Iterator[MqttBus]:
    host, port = mqtt_broker
    bus = MqttBus(
        MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"pub-{root}", window=100)
    )
    yield bus
    bus.close()


def test_stream_replayed_twice_is_stored_once(
    consumer: Ingester, publisher: MqttBus, store: SqlTelemetryStore, root: str
) -> None:
    events = stream(200)
    for _ in range(2):
        for e in events:
            publish_event(publisher, e, site="p", area="a", root=root)
    assert publisher.flush(30)
    assert wait_until(lambda: consumer.counters.received >= 400, 30)
    assert consumer.drain(30)
    counts = store.counts()
    samples = sum(3 for i in range(200) if i % 25)  # every 25th event is a state change
    assert (counts["events"], counts["samples"], counts["missing"]) == (200, samples, 0)
    assert (consumer.counters.ingested, consumer.counters.duplicates) == (200, 200)


def test_malformed_payloads_are_dead_lettered_and_consumer_keeps_going(
    consumer: Ingester, publisher: MqttBus, store: SqlTelemetryStore, root: str
) -> None:
    good = iter(stream(600))
    valid = bad = 0
    topic = topic_for("p", "a", "m1", "state", root)
    makers = [
        lambda i: (topic, b"{" * (i % 7 + 1)),  # broken JSON
        lambda i: (topic, b""),  # empty
        lambda i: (topic, json.dumps({"v": 1, "kind": "state"}).encode()),  # fields missing
        lambda i: (
            topic,
            json.dumps(
                {
                    "v": 9,
                    "event_id": f"v{i}",
                    "machine": "m1",
                    "seq": i,
                    "ts": "2026-11-01T00:00:00Z",
                    "kind": "state",
                    "state": "Executing",
                }
            ).encode(),
        ),  # unknown version
        lambda i: (
            topic_for("p", "a", "m7", "state", root),
            json.dumps(
                {
                    "v": 1,
                    "event_id": f"u{i}",
                    "machine": "m7",
                    "seq": i,
                    "ts": "2026-11-01T00:00:00Z",
                    "kind": "state",
                    "state": "Executing",
                }
            ).encode(),
        ),  # unknown machine
        lambda i: (
            topic,
            json.dumps(
                {
                    "v": 1,
                    "event_id": f"t{i}",
                    "machine": "m1",
                    "seq": i,
                    "ts": "1999-01-01T00:00:00Z",
                    "kind": "state",
                    "state": "Executing",
                }
            ).encode(),
        ),  # absurd timestamp
        lambda i: (topic, bytes(range(256)) * 2),  # binary garbage
        lambda i: (
            topic_for("p", "a", "m1", "sample", root),
            json.dumps(
                {
                    "event_id": f"s{i}",
                    "machine": "m1",
                    "seq": i,
                    "ts": "2026-11-01T00:00:00Z",
                    "samples": [{"signal": "temp", "value": "hot"}],
                }
            ).encode(),
        ),  # sample batch with a value that is no number (the fast path's kind)
        lambda i: (f"{root}/v1/p/a/m1/weather", b"{}"),  # not one of our kinds
        lambda i: (topic, b"[" + b"1," * 150_000 + b"1]"),  # oversize (300 kB)
    ]
    distinct: set[tuple[str, bytes]] = set()  # a bad message is stored once, however often sent
    for i in range(1000):
        # every 100th is oversize (10 of them), the others cycle through the rest
        maker = makers[-1] if i % 100 == 0 else makers[i % (len(makers) - 1)]
        publisher.publish(*maker(i))
        distinct.add(maker(i))
        bad += 1
        if i % 2 == 0:
            publish_event(publisher, next(good), site="p", area="a", root=root)
            valid += 1
    assert publisher.flush(60)
    assert wait_until(lambda: consumer.counters.received >= valid + bad, 60)
    assert consumer.drain(30)
    assert consumer.error is None
    counts = store.counts()
    assert (counts["events"], counts["dead_letters"], counts["missing"]) == (
        valid,
        len(distinct),
        0,
    )
    assert consumer.counters.dead_lettered == bad
    codes = consumer.counters.dead_by_code
    assert set(codes) == {"json", "schema", "unknown_machine", "timestamp", "topic", "oversize"}
    assert all(d.reason for d in store.dead_letters(limit=2000))
    # and the consumer is still running: one more valid event goes in
    publish_event(publisher, next(good), site="p", area="a", root=root)
    assert wait_until(lambda: store.counts()["events"] == valid + 1, 30)


def _ingest_process(db_url: str, broker: tuple[str, int], root: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "microfactory",
        "ingest",
        "--via",
        "mqtt",
        "--db",
        db_url,
        "--broker",
        f"{broker[0]}:{broker[1]}",
        "--client-id",
        f"ingest-{root}",
        "--root",
        root,
        "--machines",
        "m1",
        "--max-delay-ms",
        "20",
        "--session-expiry-s",
        "60",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "ingesting via mqtt ..." once subscribed
    assert "ingesting via mqtt" in line, line + proc.stderr.read()
    return proc


def test_ingester_killed_mid_stream_and_restarted_loses_nothing(
    migrated_db_url: str,
    store: SqlTelemetryStore,
    mqtt_broker: tuple[str, int],
    publisher: MqttBus,
    root: str,
) -> None:
    events = stream(600)
    proc = _ingest_process(migrated_db_url, mqtt_broker, root)
    done = threading.Event()

    def publish_all() -> None:
        for e in events:
            publish_event(publisher, e, site="p", area="a", root=root)
            time.sleep(0.002)
        publisher.flush(60)
        done.set()

    thread = threading.Thread(target=publish_all)
    thread.start()
    assert wait_until(lambda: store.counts()["events"] >= 100, 60)
    proc.send_signal(signal.SIGKILL)  # no chance to commit or acknowledge anything
    proc.communicate(timeout=10)
    stored_at_kill = store.counts()["events"]
    assert stored_at_kill < 600
    proc = _ingest_process(migrated_db_url, mqtt_broker, root)
    try:
        assert done.wait(60)
        assert wait_until(lambda: store.counts()["events"] == 600, 60)
    finally:
        proc.send_signal(signal.SIGTERM)  # clean shutdown: exit 0 with a final report
        out, _err = proc.communicate(timeout=30)
        thread.join(10)
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True
    counts = store.counts()
    assert (counts["events"], counts["missing"]) == (600, 0)
    assert counts["samples"] == sum(3 for i in range(600) if i % 25)
