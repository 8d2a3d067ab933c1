"""Broker crash with a queued backlog: how many messages the broker acknowledged (PUBACK) and
then lost, per Mosquitto persistence setting, and whether the end-to-end acknowledgement (edge
buffer + store receipts) brings them back.

Each run: a private Mosquitto (deploy/mosquitto/microfactory.conf with the variant's lines) on a
free port; a consumer's persistent session subscribes and goes away; a publisher sends N QoS 1
messages (a realistic 10-sample batch each) and waits until every one is acknowledged; the broker
is SIGKILLed at once, started again on the same directory; the consumer comes back and counts
what it gets. `e2e` runs the same story with the edge buffer (confirm="store") as the publisher
and the real ingester into SQLite as the consumer: the edge re-sends what the broker lost.

    .venv/bin/python benchmarks/durability/broker_crash.py --messages 20000 --runs 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mosquitto import REPO_CONF, PrivateMosquitto
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import Sample, SampleBatch
from microfactory.shopfloor.topics import subscription, topic_for
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

ROOT = "crash"
VARIANTS: dict[str, tuple[str, ...]] = {
    "autosave_30s": ("autosave_on_changes false", "autosave_interval 30"),
    "autosave_1s": ("autosave_on_changes false", "autosave_interval 1"),
    "on_changes_1000": ("autosave_on_changes true", "autosave_interval 1000"),
    "on_changes_100": ("autosave_on_changes true", "autosave_interval 100"),
    "on_changes_10": ("autosave_on_changes true", "autosave_interval 10"),
    "on_changes_1": ("autosave_on_changes true", "autosave_interval 1"),
    "shipped": (),  # the repository's file as it is now
}


def events(n: int, machine: str = "m1") -> list[SampleBatch]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        SampleBatch(
            event_id=f"{machine}-{i}-{os.urandom(3).hex()}",
            machine=machine,
            seq=i,
            ts=now,
            samples=[Sample(signal=f"s{k}", value=20.0 + k + i % 7, unit="C") for k in range(10)],
        )
        for i in range(n)
    ]


def settings(broker: PrivateMosquitto, client_id: str, **kw: object) -> MqttSettings:
    host, port = broker.address
    return MqttSettings(host=host, port=port, client_id=client_id, session_expiry_s=3600, **kw)  # type: ignore[arg-type]


def collect(broker: PrivateMosquitto, client_id: str, expected: int, quiet_s: float) -> set[int]:
    """Reconnect the consumer's session and take everything the broker still has."""
    seen: set[int] = set()
    lock = threading.Lock()
    bus = MqttBus(settings(broker, client_id))

    def got(m: object) -> None:
        with lock:
            seen.add(json.loads(m.payload)["seq"])  # type: ignore[attr-defined]
        bus.ack(m)  # type: ignore[arg-type]

    bus.subscribe(subscription(ROOT), got)
    last, size = time.monotonic(), -1
    while time.monotonic() - last < quiet_s and len(seen) < expected:
        time.sleep(0.1)
        if len(seen) != size:
            last, size = time.monotonic(), len(seen)
    bus.close()
    return seen


def broker_only(overrides: tuple[str, ...], n: int) -> dict[str, object]:
    broker = PrivateMosquitto(REPO_CONF, overrides=overrides)
    broker.start()
    try:
        first = MqttBus(settings(broker, "consumer"))
        first.subscribe(subscription(ROOT), lambda m: None)
        first.close()
        pub = MqttBus(settings(broker, "publisher", window=1000, publish_timeout=120.0))
        t0 = time.perf_counter()
        for e in events(n):
            pub.publish(topic_for("s", "a", e.machine, "sample", ROOT), e.to_json())
        acked = pub.flush(300)
        seconds = time.perf_counter() - t0
        broker.kill()  # at once: every message is acknowledged and queued for the consumer
        pub.close()
        broker.start()
        seen = collect(broker, "consumer", n, quiet_s=3.0)
    finally:
        broker.remove()
    return {
        "acknowledged": n if acked else None,
        "publish_s": round(seconds, 2),
        "publish_msg_per_s": round(n / seconds),
        "delivered_after_crash": len(seen),
        "lost": n - len(seen),
        "lost_pct": round(100 * (n - len(seen)) / n, 1),
    }


def end_to_end(overrides: tuple[str, ...], n: int, resend_after_s: float) -> dict[str, object]:
    broker = PrivateMosquitto(REPO_CONF, overrides=overrides)
    broker.start()
    tmp = Path(tempfile.mkdtemp(prefix="mf-crash-"))
    engine = make_engine(f"sqlite:///{tmp / 'store.db'}")
    upgrade(engine)
    store = SqlTelemetryStore(engine)
    ingest_settings = IngestSettings(root=ROOT, seq_window=None)
    try:
        first = MqttBus(settings(broker, "ingester"))
        first.subscribe(subscription(ROOT), lambda m: None)
        first.close()
        edge_bus = MqttBus(settings(broker, "edge", window=1000, publish_timeout=120.0))
        edge = EdgePublisher(
            edge_bus,
            EdgeBuffer(tmp / "edge.db"),
            site="s",
            area="a",
            root=ROOT,
            chunk=1000,
            max_unconfirmed=n,
            resend_after_s=resend_after_s,
        )
        t0 = time.perf_counter()
        edge.publish_many(list(events(n)))
        while edge.sent < n:
            time.sleep(0.01)
        acked = edge_bus.flush(300)
        seconds = time.perf_counter() - t0
        broker.kill()
        broker.start()
        ingester = Ingester(store, clock=SystemClock(), settings=ingest_settings)
        bus = MqttBus(settings(broker, "ingester"))
        ingester.start()
        ingester.attach(bus)
        t1 = time.perf_counter()
        emptied = edge.wait_empty(600)
        recovery = time.perf_counter() - t1
        bus.close()
        ingester.stop()
        edge.close()
        edge_bus.close()
        stored = store.counts()["events"]
    finally:
        broker.remove()
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "acknowledged_by_broker": n if acked else None,
        "publish_s": round(seconds, 2),
        "stored": stored,
        "lost": n - stored,
        "edge_emptied": emptied,
        "resent_by_edge": edge.resent,
        "recovery_s": round(recovery, 1),
        "duplicates_at_store": ingester.counters.duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages",
        default="20000,20500",
        help="backlog sizes, comma-separated (Mosquitto saves every N changes: a size that is "
        "not a multiple of N shows the worst case)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--e2e", default="autosave_30s,shipped", help="variants to run e2e")
    parser.add_argument("--resend-after-s", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    sizes = [int(n) for n in args.messages.split(",") if n]
    for n in sizes:
        for name in [v for v in args.variants.split(",") if v]:
            for run in range(args.runs):
                row = {"variant": name, "mode": "broker_ack", "run": run, "messages": n}
                row.update(broker_only(VARIANTS[name], n))
                results.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        for name in [v for v in args.e2e.split(",") if v]:
            for run in range(args.runs):
                row = {"variant": name, "mode": "end_to_end", "run": run, "messages": n}
                row.update(end_to_end(VARIANTS[name], n, args.resend_after_s))
                results.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    out = {"load_avg": os.getloadavg(), "results": results}
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
