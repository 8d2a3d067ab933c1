"""When a broker drops messages anyway (here: a Mosquitto whose queue holds 50 messages per
offline client), the ingester says exactly which ones it never got."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from microfactory.cli.ingest_bench import private_broker
from microfactory.connect.bus import publish_event
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.topics import subscription
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import sample_batch

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="mosquitto is not installed",
)


def stored_seqs(store: SqlTelemetryStore) -> set[int]:
    with store.engine.connect() as conn:
        return set(conn.execute(text("SELECT seq FROM tm_events")).scalars())


def test_messages_the_broker_dropped_are_reported_as_exact_gaps(
    tmp_path: Path, sqlite_store: SqlTelemetryStore, root: str
) -> None:
    conf = tmp_path / "small-queue.conf"
    conf.write_text("persistence false\nmax_queued_messages 50\nmax_inflight_messages 20\n")
    with private_broker(conf) as (host, port):
        settings = MqttSettings(host=host, port=port, client_id=f"ingest-{root}")
        # the consumer's persistent session subscribes, then the consumer goes away ...
        first = MqttBus(settings)
        first.subscribe(subscription(root), lambda m: None)
        first.close()
        # ... while the machine publishes 300 events: more than the broker will queue
        pub = MqttBus(MqttSettings(host=host, port=port, client_id=f"pub-{root}", window=50))
        for seq in range(300):
            publish_event(pub, sample_batch("m1", seq), site="p", area="a", root=root)
        assert pub.flush(30)
        ingester = Ingester(
            sqlite_store,
            clock=SystemClock(),
            known_machines={"m1"},
            settings=IngestSettings(root=root, max_delay_s=0.02),
        )
        ingester.start()
        bus = MqttBus(settings)
        ingester.attach(bus)
        time.sleep(1.0)
        publish_event(pub, sample_batch("m1", 300), site="p", area="a", root=root)
        assert pub.flush(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and 300 not in stored_seqs(sqlite_store):
            time.sleep(0.05)
        bus.close()
        pub.close()
        ingester.stop()
    seqs = stored_seqs(sqlite_store)
    missing = {s for g in sqlite_store.gaps("m1") for s in range(g.first, g.last + 1)}
    assert missing, "the small queue should have dropped messages"
    assert not (seqs & missing)
    assert seqs | missing == set(range(301))  # every message is either stored or reported
