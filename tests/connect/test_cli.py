"""The connectivity commands, through the real entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from microfactory.cli.main import app
from microfactory.connect.opcua_sim import OpcUaMachineSimulator
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.services.ingestion import Ingester
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0, sample_batch, state_event

runner = CliRunner()
BENCH_FIELDS = {
    "via",
    "store",
    "messages",
    "samples",
    "seconds",
    "messages_per_s",
    "samples_per_s",
    "lost",
    "duplicated",
    "p99_latency_ms",
}


def test_machines_status_shows_state_and_lost_ranges(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    events = [
        state_event(
            "m1", 0, MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, reason="coolant"
        ),
        sample_batch("m1", 3),
    ]
    Ingester(SqlTelemetryStore(engine), clock=FixedClock(T0)).process(
        [(topic_for("p", "a", e.machine, e.kind), e.to_json()) for e in events]
    )
    engine.dispose()
    result = runner.invoke(app, ["machines", "status", "--db", sqlite_url, "--json"])
    assert result.exit_code == 0, result.output
    (m1,) = json.loads(result.stdout)["machines"]
    assert (m1["state"], m1["mode"], m1["reason"], m1["gaps"]) == (
        "OutOfService",
        "maintenance",
        "coolant",
        [[1, 2]],
    )


def test_bench_ingest_in_memory_prints_the_contract_fields() -> None:
    result = runner.invoke(
        app, ["bench", "ingest", "--messages", "300", "--via", "memory", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= BENCH_FIELDS
    assert (report["messages"], report["samples"], report["lost"], report["duplicated"]) == (
        300,
        3000,
        0,
        0,
    )
    assert report["references"]["naive_one_row_per_message"]["messages"] == 300


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "ingest", "--via", "carrier-pigeon"],  # unknown transport
        ["bench", "ingest", "--store", "oracle"],  # unknown store
        ["bench", "ingest", "--messages", "0"],  # nothing to measure
        ["ingest", "--via", "modbus"],  # unknown transport
        ["ingest", "--broker", "localhost"],  # no port
    ],
)
def test_bad_option_is_a_validation_error(args: list[str], sqlite_url: str) -> None:
    extra = ["--db", sqlite_url] if args[0] == "ingest" else []
    result = runner.invoke(app, [*args, *extra])
    assert isinstance(result.exception, ValidationError), result.output


def test_bad_option_exits_2_through_the_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "microfactory", "bench", "ingest", "--via", "carrier-pigeon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--via" in proc.stderr


def test_ingest_via_opcua_stores_simulated_machine_states(
    sqlite_url: str, opcua_sim: tuple[str, OpcUaMachineSimulator], root: str
) -> None:
    endpoint, sim = opcua_sim
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "microfactory",
            "ingest",
            "--via",
            "opcua",
            "--endpoint",
            endpoint,
            "--db",
            sqlite_url,
            "--root",
            root,
            "--site",
            "p",
            "--area",
            "a",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stderr is not None
        assert "ingesting via opcua" in proc.stderr.readline()
        sim.set_state("m2", MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, "opcua-test")
        engine = make_engine(sqlite_url)
        store = SqlTelemetryStore(engine)
        deadline = time.monotonic() + 30
        found = None
        while time.monotonic() < deadline and found is None:
            found = next(
                (
                    s
                    for s in store.machine_statuses()
                    if s.machine == "m2" and s.reason == "opcua-test"
                ),
                None,
            )
            time.sleep(0.1)
        engine.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert found is not None
    assert found.state is MachineState.OUT_OF_SERVICE
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True
