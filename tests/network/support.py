"""Helpers of the network tests: site databases that produce shop-floor events, the
`microfactory network site|hub` processes, and the checks on what the hub stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from microfactory.shopfloor.events import PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.store import outbox
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.network_tables import SqlHubStore
from microfactory.store.telemetry_tables import SqlTelemetryStore

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
MF = [sys.executable, "-m", "microfactory"]


def site_database(path: Path, site: str) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    outbox.enable(engine, site)
    engine.dispose()
    return url


@dataclass
class Producer:
    """Writes shop-floor events into a site database through the telemetry store (the
    ingester's path, so the outbox rows are written in the same transactions), a batch every
    `period_s`, until stopped. `produced` lists the event ids in commit order."""

    site: str
    url: str
    batch: int = 20
    period_s: float = 0.05
    realtime: bool = False  # event time = wall clock (to measure lag); else simulated
    produced: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.store = SqlTelemetryStore(self.engine)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0

    def write(self, n: int) -> None:
        events: list[Any] = []
        now = datetime.now(UTC)
        for _ in range(n):
            self._seq += 1
            s = self._seq
            machine = f"m{s % 3}"
            ts = now if self.realtime else T0 + timedelta(seconds=s)
            eid = f"{self.site}-{s}"
            if s % 4 == 0:
                state = MachineState.EXECUTING if s % 8 == 0 else MachineState.NOT_EXECUTING
                events.append(
                    StateChanged(
                        event_id=eid,
                        machine=machine,
                        seq=s,
                        ts=ts,
                        state=state,
                        mode=MachineMode.PROCESSING if s % 8 == 0 else MachineMode.IDLE,
                    )
                )
            else:
                events.append(PartCounter(event_id=eid, machine=machine, seq=s, ts=ts, good=1))
        with self.store.transaction() as tx:
            tx.insert_events(events, 0)
        self.produced.extend(e.event_id for e in events)

    def _run(self) -> None:
        """A batch every `period_s` on a fixed schedule (a slow write is caught up)."""
        due = time.monotonic()
        while not self._stop.is_set():
            self.write(self.batch)
            due += self.period_s
            self._stop.wait(max(0.0, due - time.monotonic()))

    def start(self) -> Producer:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"produce-{self.site}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.engine.dispose()


class Proc:
    """A `microfactory network ...` process with its output in files."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.args = args
        self.name = name
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.proc = subprocess.Popen([*MF, *self.args], stdout=out, stderr=err, env=env)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> dict[str, Any]:
        """SIGTERM; the JSON counters it printed (exit 0 expected)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        assert code == 0, f"{self.name} exited {code}: {self.err.read_text()[-2000:]}"
        text = self.out.read_text()
        return dict(json.loads(text[text.rindex("{\n") :]))

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:] if self.err.exists() else ""


def wait_for_streams(urls: str, timeout: float = 90.0) -> None:
    """Wait until the hub process has created its streams."""
    import asyncio

    from microfactory.connect.nats import EVENTS_STREAM, ROUTES_STREAM, NatsLink
    from microfactory.core.errors import ConnectorError

    async def ready() -> bool:
        link = NatsLink(urls, name="test-wait")
        try:
            await link.connect()
            await link.stream_messages(EVENTS_STREAM)
            await link.stream_messages(ROUTES_STREAM)
            return True
        except ConnectorError:
            return False
        finally:
            await link.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(ready()):
            return
        time.sleep(0.5)
    raise AssertionError(f"the hub did not create its streams within {timeout} s")


def binary_stl(mesh: Any) -> bytes:
    """Binary STL of a trimesh mesh (80-byte header, count, 50 bytes per facet)."""
    import io
    import struct

    out = io.BytesIO()
    out.write(b"network test part".ljust(80, b"\0"))
    out.write(struct.pack("<I", len(mesh.faces)))
    for tri, normal in zip(mesh.triangles, mesh.face_normals, strict=True):
        out.write(struct.pack("<12fH", *normal, *tri.ravel(), 0))
    return out.getvalue()


def hub_keys(hub: SqlHubStore, site: str) -> list[str]:
    return [key for _, _, key in hub.site_keys(site)]


def wait_for_hub(hub: SqlHubStore, expected: dict[str, list[str]], timeout: float) -> None:
    """Wait until the hub holds as many records of each site as produced."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        by_kind = hub.counts_by_kind()
        counts = {s: sum(by_kind.get(s, {}).values()) for s in expected}
        if all(counts[s] >= len(ids) for s, ids in expected.items()):
            return
        time.sleep(0.25)
    raise AssertionError(f"hub has {counts}, expected { {s: len(v) for s, v in expected.items()} }")


def assert_exactly_once_in_order(hub: SqlHubStore, site: str, produced: list[str]) -> None:
    """Every produced event is at the hub once, stored in the order the site committed it."""
    keys = hub_keys(hub, site)
    assert len(keys) == len(set(keys)), f"{site}: duplicates at the hub"
    missing = set(produced) - set(keys)
    assert not missing, f"{site}: {len(missing)} events missing at the hub"
    assert len(keys) == len(produced), f"{site}: {len(keys)} stored vs {len(produced)} produced"
    assert keys == produced, f"{site}: the hub stored events out of the site's order"
    seqs = [seq for seq, _, _ in hub.site_keys(site)]
    assert seqs == list(range(1, len(seqs) + 1)), f"{site}: outbox sequence not 1..n in order"
