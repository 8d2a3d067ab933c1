"""The fault suite: crashes and outages while the shop floor keeps sending, with poison
messages interleaved. Every run ends with the same check: every event the edge sent (and the
store confirmed, so the edge forgot it) is stored exactly once, and every poison message is
one dead letter.

Bounded and loopback only: each test starts its own Mosquitto on a free port (never the
machine's broker), uses its own SQLite file or a fresh PostgreSQL database, and a few thousand
events at most. The kill points are random but seeded (`FAULT_SEED`, printed on failure).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from conftest import IN_CI, PG_ADMIN_URL
from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mosquitto import PrivateMosquitto, mosquitto_binary
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import Event, PartCounter, Sample, SampleBatch, StateChanged
from microfactory.shopfloor.machines import MachineState
from microfactory.shopfloor.topics import subscription, topic_for
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        mosquitto_binary() is None and not IN_CI, reason="mosquitto is not installed"
    ),
]
SEED = int(os.environ.get("FAULT_SEED", "20261201"))
SITE, AREA = "f", "cell"
YEAR_0 = "0001-01-01T00:00:00+01:00"  # year 0 in UTC: overflowed the time-zone conversion


# the rig ---------------------------------------------------------------------------------------


def stream(n: int, machine: str = "m1") -> list[Event]:
    """A machine's day in miniature: state changes, part counts and sample batches."""
    now = datetime.now(UTC).replace(microsecond=0)
    out: list[Event] = []
    for i in range(n):
        eid = f"{machine}-{i}-{os.urandom(4).hex()}"
        if i % 20 == 0:
            state = MachineState.EXECUTING if i % 40 == 0 else MachineState.NOT_EXECUTING
            out.append(StateChanged(event_id=eid, machine=machine, seq=i, ts=now, state=state))
        elif i % 7 == 0:
            out.append(PartCounter(event_id=eid, machine=machine, seq=i, ts=now, good=2, reject=1))
        else:
            samples = [Sample(signal=f"s{k}", value=float(i + k), unit="C") for k in range(5)]
            out.append(SampleBatch(event_id=eid, machine=machine, seq=i, ts=now, samples=samples))
    return out


def poison_messages(root: str) -> list[tuple[str, bytes]]:
    """One of each kind that used to stop ingestion, and plain garbage."""
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def body(kind: str, eid: str, **fields: Any) -> bytes:
        base = {"v": 1, "event_id": eid, "machine": "m2", "seq": 0, "ts": ts, "kind": kind}
        return json.dumps({**base, **fields}).encode()

    def topic(kind: str) -> str:
        return topic_for(SITE, AREA, "m2", kind, root)

    return [
        (topic("counter"), body("counter", "p-big", good=2**63)),
        (topic("state"), body("state", "p-nul", state="Executing", reason="a\u0000b")),
        (topic("state"), body("state", "p-year", state="Executing", ts=YEAR_0)),
        (topic("sample"), body("sample", "p-old", samples=[
            {"signal": "t", "value": 1.0, "ts": "0001-01-01T00:00:00Z"}])),
        (topic("state"), b"\xff\xfe{not json"),
        (topic("sample"), body("sample", "poison-refused", samples=[{"signal": "t", "value": 1}])),
    ]  # fmt: skip


REFUSE = {  # the store refuses these in the database itself: found by the poison quarantine
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON tm_events WHEN NEW.event_id LIKE 'poison%' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.event_id LIKE 'poison%' "
        "THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON tm_events FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def migrated(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for sql in REFUSE[engine.dialect.name]:
            conn.execute(text(sql))
    return engine


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def mqtt(broker: PrivateMosquitto, client_id: str, **kw: Any) -> MqttBus:
    host, port = broker.address
    return MqttBus(
        MqttSettings(host=host, port=port, client_id=client_id, session_expiry_s=600, **kw),
        connect_timeout=None,
    )


class Edge:
    """The edge: its buffer, publisher and MQTT connection."""

    def __init__(self, broker: PrivateMosquitto, path: Path, root: str) -> None:
        self.bus = mqtt(broker, f"edge-{root}")
        self.publisher = EdgePublisher(
            self.bus,
            EdgeBuffer(path),
            site=SITE,
            area=AREA,
            root=root,
            chunk=200,
            resend_after_s=1.0,
            max_resend_after_s=4.0,
        )

    def close(self) -> None:
        self.publisher.close()
        self.bus.close()
        self.publisher.buffer.close()


def assert_exactly_once(
    store: SqlTelemetryStore, sent: list[Event], poison: int, note: str
) -> None:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id FROM tm_events WHERE machine = 'm1'")).all()
        letters = conn.execute(text("SELECT count(*) FROM tm_dead_letters")).scalar_one()
    stored = [r[0] for r in rows]
    assert len(stored) == len(set(stored)), note
    assert set(stored) == {e.event_id for e in sent}, note
    status = next(s for s in store.machine_statuses() if s.machine == "m1")
    counters = [e for e in sent if isinstance(e, PartCounter)]
    assert (status.events, status.last_seq) == (len(sent), len(sent) - 1), note
    assert (status.good, status.reject) == (2 * len(counters), len(counters)), note
    assert store.gaps("m1") == [], note
    assert letters == poison, note


@pytest.fixture
def broker() -> Iterator[PrivateMosquitto]:
    b = PrivateMosquitto()
    b.start()
    yield b
    b.remove()


# ingester SIGKILLed at random points ----------------------------------------------------------


class IngestProcess:
    """`microfactory ingest --via mqtt` as a user runs it, in its own process."""

    def __init__(self, db_url: str, broker: PrivateMosquitto, root: str) -> None:
        host, port = broker.address
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "microfactory", "ingest", "--via", "mqtt", "--db", db_url,
             "--broker", f"{host}:{port}", "--client-id", f"ingest-{root}", "--root", root,
             "--machines", "m1,m2", "--max-delay-ms", "20", "--report-s", "3600",
             "--session-expiry-s", "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "ingesting via mqtt" in line, line + self.proc.stderr.read()
        self.errors: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.errors.append(self.proc.stderr.read())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self._close()

    def terminate(self) -> tuple[int, str]:
        """SIGTERM: the ingester commits what it has and prints its counters."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self._close()
        return self.proc.returncode, out

    def _close(self) -> None:
        self.proc.wait(30)
        self._drain.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def test_ingester_killed_at_random_points_loses_and_doubles_nothing(
    tmp_path: Path, broker: PrivateMosquitto, db_url: str, root: str
) -> None:
    rng = random.Random(SEED)
    engine = migrated(db_url)
    store = SqlTelemetryStore(engine)
    events = stream(2000)
    poison = poison_messages(root)
    edge = Edge(broker, tmp_path / "edge.db", root)
    raw = mqtt(broker, f"raw-{root}")
    kills: list[float] = []
    proc = IngestProcess(db_url, broker, root)
    try:

        def feed() -> None:
            for i in range(0, len(events), 50):
                edge.publisher.publish_many(events[i : i + 50])
                if i // 200 < len(poison) and i % 200 == 0:
                    raw.publish(*poison[i // 200])
                time.sleep(0.05)

        feeder = threading.Thread(target=feed)
        feeder.start()
        for _ in range(3):  # SIGKILL at a random moment, then start it again
            time.sleep(rng.uniform(0.1, 1.5))
            kills.append(store.counts()["events"])
            proc.kill()
            proc = IngestProcess(db_url, broker, root)
        feeder.join(60)
        assert raw.flush(30)
        note = f"seed {SEED}, stored at the kills: {kills}"
        assert edge.publisher.wait_empty(90), note
        assert wait_until(lambda: store.counts()["dead_letters"] == len(poison), 30), note
    finally:
        code, out = proc.terminate()
        edge.close()
        raw.close()
    assert code == 0, out + "".join(proc.errors)
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True
    assert_exactly_once(store, events, len(poison), note)
    engine.dispose()


# broker SIGKILLed with a queued backlog --------------------------------------------------------


def test_broker_killed_with_a_backlog_loses_nothing_the_store_confirmed(
    tmp_path: Path, sqlite_url: str, root: str
) -> None:
    """The broker saves nothing before the crash (autosave every hour): all it acknowledged
    is gone. The edge, waiting for the store's receipts, sends it all again."""
    broker = PrivateMosquitto(overrides=("autosave_on_changes false", "autosave_interval 3600"))
    broker.start()
    engine = migrated(sqlite_url)
    store = SqlTelemetryStore(engine)
    settings = IngestSettings(root=root, max_delay_s=0.02)
    away = mqtt(broker, f"ingest-{root}")
    away.subscribe(subscription(root), lambda m: None)  # the consumer's session ...
    away.close()  # ... and the consumer goes away: the broker queues
    edge = Edge(broker, tmp_path / "edge.db", root)
    events = stream(2000)
    poison = poison_messages(root)
    try:
        edge.publisher.publish_many(events)
        assert wait_until(lambda: edge.publisher.sent >= len(events), 30)
        assert edge.bus.flush(30)  # every message acknowledged by the broker
        broker.kill()
        broker.start()
        ingester = Ingester(store, clock=SystemClock(), settings=settings)
        bus = mqtt(broker, f"ingest-{root}")
        assert bus.wait_connected(15)  # then attach waits for the broker's SUBACK: the
        ingester.start()  # session (never saved by this broker) exists again before the
        ingester.attach(bus)  # poison below, which has no edge buffer to re-send it, is sent
        raw = mqtt(broker, f"raw-{root}")
        for message in poison:
            raw.publish(*message)
        assert raw.flush(30)
        raw.close()
        assert edge.publisher.wait_empty(60)
        assert wait_until(lambda: store.counts()["dead_letters"] == len(poison), 30)
        bus.close()
        ingester.stop()
        assert ingester.error is None
    finally:
        edge.close()
        broker.remove()
    assert edge.publisher.resent > 0  # the broker did lose the backlog
    assert_exactly_once(store, events, len(poison), f"resent {edge.publisher.resent}")
    engine.dispose()


@pytest.mark.parametrize("confirm", ["store", "broker"])
def test_broker_killed_with_a_backlog_after_broker_acknowledgement_only(
    tmp_path: Path, sqlite_url: str, root: str, confirm: str
) -> None:
    """The defect this suite guards against, shown with the old edge (delete on the broker's
    acknowledgement): the broker's crash loses what it acknowledged. With store receipts the
    same crash loses nothing."""
    broker = PrivateMosquitto(overrides=("autosave_on_changes false", "autosave_interval 3600"))
    broker.start()
    store = SqlTelemetryStore(migrated(sqlite_url))
    away = mqtt(broker, f"ingest-{root}")
    away.subscribe(subscription(root), lambda m: None)
    away.close()
    edge_bus = mqtt(broker, f"edge-{root}")
    edge = EdgePublisher(edge_bus, EdgeBuffer(tmp_path / "e.db"), site=SITE, area=AREA,
                         root=root, confirm=confirm, resend_after_s=1.0)  # type: ignore[arg-type]  # fmt: skip
    events = stream(500)
    try:
        edge.publish_many(events)
        assert wait_until(lambda: edge.sent >= len(events) and edge_bus.flush(0.1), 30)
        broker.kill()
        broker.start()
        ingester = Ingester(store, clock=SystemClock(), settings=IngestSettings(root=root))
        bus = mqtt(broker, f"ingest-{root}")
        assert bus.wait_connected(15)
        ingester.start()
        ingester.attach(bus)
        emptied = edge.wait_empty(30)
        time.sleep(0.5)
        bus.close()
        ingester.stop()
    finally:
        edge.close()
        edge_bus.close()
        broker.remove()
    stored = store.counts()["events"]
    if confirm == "broker":
        assert (emptied, stored) == (True, 0)  # the edge forgot them all, the broker lost them
    else:
        assert (emptied, stored) == (True, len(events))
    store.engine.dispose()


# the database goes away -------------------------------------------------------------------------


def run_consumer_through(
    store: SqlTelemetryStore,
    broker: PrivateMosquitto,
    tmp_path: Path,
    root: str,
    fault: Callable[[Ingester], None],
) -> Ingester:
    """Stream events through edge → broker → ingester while `fault(ingester)` runs once a
    third of them is stored; return the ingester after everything is confirmed."""
    ingester = Ingester(store, clock=SystemClock(), settings=IngestSettings(root=root))
    bus = mqtt(broker, f"ingest-{root}")
    assert bus.wait_connected(15)  # subscribed before anything is sent
    ingester.start()
    ingester.attach(bus)
    edge = Edge(broker, tmp_path / "edge.db", root)
    raw = mqtt(broker, f"raw-{root}")
    events = stream(1200)
    poison = poison_messages(root)
    try:
        for i in range(0, 400, 50):
            edge.publisher.publish_many(events[i : i + 50])
        assert wait_until(lambda: store_count(store) >= 200, 30)
        fault_thread = threading.Thread(target=fault, args=(ingester,))
        fault_thread.start()
        for i, message in enumerate(poison):
            edge.publisher.publish_many(events[400 + 100 * i : 500 + 100 * i])
            raw.publish(*message)
        edge.publisher.publish_many(events[400 + 100 * len(poison) :])
        fault_thread.join(60)
        assert raw.flush(30)
        assert edge.publisher.wait_empty(90)
        assert ingester.drain(60)
        assert wait_until(lambda: store.counts()["dead_letters"] == len(poison), 30)
    finally:
        edge.close()
        raw.close()
        bus.close()
        ingester.stop()
    assert ingester.error is None
    assert_exactly_once(store, events, len(poison), f"counters {ingester.counters.as_dict()}")
    return ingester


def store_count(store: SqlTelemetryStore) -> int:
    try:
        return store.counts()["events"]
    except Exception:  # the fault may have made the database unreachable for us, too
        return -1


@pytest.mark.postgres
def test_postgresql_refusing_connections_for_a_while_loses_nothing(
    tmp_path: Path, broker: PrivateMosquitto, pg_url: str, root: str
) -> None:
    engine = migrated(pg_url)
    store = SqlTelemetryStore(engine)
    name = pg_url.rsplit("/", 1)[1]
    admin = make_engine(PG_ADMIN_URL)

    def outage(ingester: Ingester) -> None:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            wait_until(lambda: ingester.counters.db_retries >= 2, 30)
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    try:
        ingester = run_consumer_through(store, broker, tmp_path, root, outage)
    finally:
        admin.dispose()
        engine.dispose()
    assert ingester.counters.db_retries >= 2


def test_sqlite_disk_full_for_a_while_loses_nothing(
    tmp_path: Path, broker: PrivateMosquitto, sqlite_url: str, root: str
) -> None:
    """`PRAGMA max_page_count` makes the file 'full' a little past its current size; later
    the limit is lifted, as when an operator frees space."""
    engine = migrated(sqlite_url)
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    limit = [pages + 60]

    @event.listens_for(engine, "connect")
    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit[0]}")

    engine.dispose()  # reconnect under the cap
    store = SqlTelemetryStore(engine)

    def free_space(ingester: Ingester) -> None:
        assert wait_until(lambda: ingester.counters.db_retries >= 2, 60)
        limit[0] = 1_000_000
        engine.dispose()

    ingester = run_consumer_through(store, broker, tmp_path, root, free_space)
    assert ingester.counters.db_retries >= 2
    engine.dispose()
