"""`microfactory bench ingest`: the ingestion benchmark (composition code: it wires a bus, a
scratch database and the ingestion service, and runs two references in the same run).

Stream: `messages` sample batches of 10 samples each, spread over 4 machines, consecutive seq
per machine, `ts` stamped at publish time so latency = commit time − ts (publish → queryable).
References: a naive consumer that inserts and commits one row per message (run on at most
`NAIVE_CAP` messages), and, via MQTT, `mosquitto_sub -q 1` reading the same stream to
/dev/null (the broker's own ceiling on this machine).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from microfactory.connect.bus import InProcessBus, Message
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import SystemClock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.services.ingestion import BatchResult, Ingester, IngestSettings
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

MACHINES = ("bm1", "bm2", "bm3", "bm4")
SIGNALS = (
    "spindle_temp",
    "vibration_x",
    "vibration_y",
    "vibration_z",
    "current",
    "voltage",
    "power",
    "feed",
    "speed",
    "pressure",
)
NAIVE_CAP = 3000
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO_CONF = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "microfactory.conf"


def _samples_json(i: int) -> str:
    return ",".join(
        f'{{"signal":"{s}","value":{(i * 7 + k) % 1000 / 10},"unit":"u"}}'
        for k, s in enumerate(SIGNALS)
    )


class Stream:
    """The benchmark stream; payloads are formatted with the publish time."""

    def __init__(self, n: int, root: str, tag: str) -> None:
        self.n = n
        self.items: list[tuple[str, str]] = []
        for i in range(n):
            machine = MACHINES[i % len(MACHINES)]
            seq = i // len(MACHINES)
            topic = f"{root}/v1/bench/a1/{machine}/sample"
            body = (
                f'{{"v":1,"event_id":"{tag}-{i}","machine":"{machine}","seq":{seq},'
                f'"ts":"%s","kind":"sample","samples":[{_samples_json(i)}]}}'
            )
            self.items.append((topic, body))

    def payload(self, i: int) -> tuple[str, bytes]:
        topic, body = self.items[i]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return topic, (body % now).encode()


def _paced(n: int, rate: float) -> Iterator[int]:
    start = time.perf_counter()
    for i in range(n):
        if rate > 0:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        yield i


def _publisher_main(
    host: str, port: int, root: str, tag: str, n: int, rate: float, out: Any
) -> None:
    """Run in a separate process: publish the stream with the flow-controlled MQTT bus."""
    stream = Stream(n, root, tag)
    bus = MqttBus(
        MqttSettings(
            host=host, port=port, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}", window=1000
        )
    )
    start = time.time()
    out.put(("start", start))
    for i in _paced(n, rate):
        bus.publish(*stream.payload(i))
    bus.flush(120.0)
    out.put(("done", time.time()))
    bus.close()


@contextlib.contextmanager
def scratch_database(store: str, pg_admin_url: str | None) -> Iterator[str]:
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin_url = pg_admin_url or os.environ.get("MICROFACTORY_BENCH_PG_URL", DEFAULT_PG_ADMIN)
    name = f"mf_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise ConnectorError(f"cannot create a scratch PostgreSQL database: {exc}") from exc
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_broker(conf: Path = REPO_CONF) -> Iterator[tuple[str, int]]:
    """A Mosquitto on a free port with the repository's recommended configuration."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise ConnectorError("mosquitto is not installed; pass --broker HOST:PORT")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="mf-mosq-") as tmp:
        Path(tmp).chmod(0o777)  # mosquitto started as root saves as its own user
        lines = []
        for line in conf.read_text().splitlines() if conf.exists() else []:
            if line.startswith(("listener ", "persistence_location", "log_dest", "pid_file")):
                continue
            lines.append(line)
        lines += [
            f"listener {port} 127.0.0.1",
            f"persistence_location {tmp}/",
            "allow_anonymous true",
        ]
        path = Path(tmp) / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(
            [binary, "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.2),
                ):
                    break
                time.sleep(0.05)
            else:
                raise ConnectorError("the private mosquitto did not start")
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            proc.wait(10)


class _Latency:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.last_commit = 0.0

    def __call__(self, result: BatchResult) -> None:
        at = result.committed_at
        self.last_commit = at
        self.values.extend(at - e.ts.timestamp() for e in result.stored)

    def p99_ms(self) -> float:
        if not self.values:
            return 0.0
        ordered = sorted(self.values)
        return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1)


def _outcome(store: SqlTelemetryStore, n: int) -> tuple[int, int]:
    counts = store.counts()
    lost = n - counts["events"]
    duplicated = max(0, counts["samples"] - counts["events"] * len(SIGNALS)) // len(SIGNALS)
    return lost, duplicated


def run_bench(
    *,
    messages: int,
    via: str,
    store: str,
    pg_admin_url: str | None,
    broker: tuple[str, int] | None,
    rate: float,
    references: bool,
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        if via == "mqtt" and broker is None:
            broker = stack.enter_context(private_broker())
        url = stack.enter_context(scratch_database(store, pg_admin_url))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        result = _run_ours(engine, messages, via, broker, rate)
        result["store"] = store
        if references:
            refs: dict[str, Any] = {
                "naive_one_row_per_message": _run_naive(
                    url if store == "postgresql" else None, min(messages, NAIVE_CAP), via, broker
                )
            }
            if via == "mqtt" and broker is not None:
                refs["mosquitto_sub"] = _run_mosquitto_sub(broker, messages)
            result["references"] = refs
        result["broker"] = None if broker is None else f"{broker[0]}:{broker[1]}"
        result["rate"] = rate
        return result


def _run_ours(
    engine: Any, n: int, via: str, broker: tuple[str, int] | None, rate: float
) -> dict[str, Any]:
    sql = SqlTelemetryStore(engine)
    latency = _Latency()
    root = f"bench{uuid.uuid4().hex[:8]}"
    ingester = Ingester(
        sql,
        clock=SystemClock(),
        known_machines=MACHINES,
        settings=IngestSettings(root=root),
        on_commit=latency,
    )
    ingester.start()
    cpu0 = time.process_time()
    if via == "memory":
        bus = InProcessBus()
        ingester.attach(bus)
        stream = Stream(n, root, "m")
        start = time.time()
        for i in _paced(n, rate):
            bus.publish(*stream.payload(i))
        ingester.drain(600)
    else:
        assert broker is not None
        mbus = MqttBus(
            MqttSettings(host=broker[0], port=broker[1], client_id=f"bench-ingest-{root}")
        )
        ingester.attach(mbus)
        start = _publish_in_child(broker, root, "q", n, rate, ingester)
        mbus.close()
    ingester.stop(60)
    cpu = time.process_time() - cpu0
    if ingester.error is not None:
        raise ingester.error
    seconds = max(1e-9, latency.last_commit - start)
    lost, duplicated = _outcome(sql, n)
    return {
        "via": via,
        "messages": n,
        "samples": n * len(SIGNALS),
        "seconds": round(seconds, 3),
        "messages_per_s": round(n / seconds, 1),
        "samples_per_s": round(n * len(SIGNALS) / seconds, 1),
        "lost": lost,
        "duplicated": duplicated,
        "p99_latency_ms": latency.p99_ms(),
        "gaps_reported": ingester.counters.gaps,
        # CPU seconds of this (ingesting) process, all threads: less sensitive than wall time
        # to other load on the machine ("memory" includes the in-process publisher)
        "ingest_cpu_us_per_message": round(cpu / n * 1e6, 1),
        "dead_lettered": ingester.counters.dead_lettered,
    }


def _publish_in_child(
    broker: tuple[str, int], root: str, tag: str, n: int, rate: float, ingester: Ingester | None
) -> float:
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    proc = ctx.Process(target=_publisher_main, args=(broker[0], broker[1], root, tag, n, rate, out))
    proc.start()
    _kind, start = out.get(timeout=60)
    if ingester is not None:
        last, stalled = -1, time.monotonic()
        while ingester.counters.ingested + ingester.counters.duplicates < n:
            if ingester.error is not None:
                break
            seen = ingester.counters.received
            if seen != last:
                last, stalled = seen, time.monotonic()
            elif time.monotonic() - stalled > 15:
                break  # nothing more arrives: the rest is lost (reported as `lost`)
            time.sleep(0.05)
    proc.join(120)
    return float(start)


def _run_naive(
    pg_url: str | None, n: int, via: str, broker: tuple[str, int] | None
) -> dict[str, Any]:
    """One INSERT + COMMIT per message, no batching, no dedup index (the usual first try)."""
    with tempfile.TemporaryDirectory(prefix="mf-naive-") as tmp:
        if pg_url is None:
            db: Any = sqlite3.connect(f"{tmp}/naive.db", check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            ph = "?"
        else:
            import psycopg

            db = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
            ph = "%s"
        db.execute("CREATE TABLE naive (event_id TEXT, machine TEXT, body TEXT)")
        db.commit()
        done = threading.Event()
        count = [0]

        def handle(topic: str, payload: bytes) -> None:
            event = json.loads(payload)
            db.execute(
                f"INSERT INTO naive VALUES ({ph}, {ph}, {ph})",
                (event["event_id"], event["machine"], payload.decode()),
            )
            db.commit()
            count[0] += 1
            if count[0] >= n:
                done.set()

        root = f"naive{uuid.uuid4().hex[:8]}"
        if via == "memory":
            stream = Stream(n, root, "n")
            start = time.time()
            for i in range(n):
                handle(*stream.payload(i))
        else:
            assert broker is not None
            bus = MqttBus(MqttSettings(host=broker[0], port=broker[1], client_id=f"naive-{root}"))

            def on_message(m: Message) -> None:
                handle(m.topic, m.payload)
                bus.ack(m)

            bus.subscribe(f"{root}/#", on_message)
            start = _publish_in_child(broker, root, "n", n, 0.0, None)
            done.wait(300)
            bus.close()
        seconds = max(1e-9, time.time() - start)
        db.close()
    return {
        "messages": count[0],
        "seconds": round(seconds, 3),
        "messages_per_s": round(count[0] / seconds, 1),
    }


def _run_mosquitto_sub(broker: tuple[str, int], n: int) -> dict[str, Any]:
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        return {"skipped": "mosquitto_sub is not installed"}
    root = f"ceil{uuid.uuid4().hex[:8]}"
    sub = subprocess.Popen(
        [
            binary,
            "-h",
            broker[0],
            "-p",
            str(broker[1]),
            "-t",
            f"{root}/#",
            "-q",
            "1",
            "-C",
            str(n),
            "-i",
            f"ceiling-{root}",
            "-V",
            "mqttv5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    start = _publish_in_child(broker, root, "c", n, 0.0, None)
    try:
        sub.wait(300)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise ValidationError("mosquitto_sub did not receive the whole stream") from None
    seconds = max(1e-9, time.time() - start)
    return {"messages": n, "seconds": round(seconds, 3), "messages_per_s": round(n / seconds, 1)}


def run_opcua_demo(endpoint: str, machines: list[str], seconds: float) -> None:
    """Serve machines over OPC UA and make them do something: cycle states, count parts,
    move two process values."""
    import math

    from microfactory.connect.opcua_sim import OpcUaMachineSimulator
    from microfactory.shopfloor.machines import MachineMode, MachineState

    sim = OpcUaMachineSimulator(
        endpoint, {m: [("spindle_temp", "degC"), ("vibration", "mm/s")] for m in machines}
    )
    sim.start()
    start = time.monotonic()
    tick = 0
    try:
        while seconds <= 0 or time.monotonic() - start < seconds:
            for k, m in enumerate(machines):
                phase = (tick + k) % 20
                if phase == 0:
                    sim.set_state(m, MachineState.EXECUTING, MachineMode.PROCESSING)
                elif phase == 15:
                    sim.set_state(m, MachineState.NOT_EXECUTING, MachineMode.SETUP, "changeover")
                if phase < 15:
                    sim.add_parts(m, good=1, reject=1 if tick % 17 == 0 else 0)
                sim.set_signal(m, "spindle_temp", 40 + 5 * math.sin(tick / 10 + k))
                sim.set_signal(m, "vibration", 2 + math.cos(tick / 7 + k))
            tick += 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
