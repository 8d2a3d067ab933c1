"""Fixtures of the connectivity tests: unique topic roots, a telemetry store on each database,
an OPC UA machine simulator, and event factories."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from microfactory.connect.opcua_sim import OpcUaMachineSimulator
from microfactory.shopfloor.events import Sample, SampleBatch, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SIM_SIGNALS = {"m1": [("temp", "C"), ("vib", "mm/s")], "m2": [("temp", "C")]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def root() -> str:
    """A topic root nobody else uses, so tests on the shared broker do not see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlTelemetryStore]:
    engine = make_engine(migrated_db_url)
    upgrade(engine)
    yield SqlTelemetryStore(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def opcua_sim() -> Iterator[tuple[str, OpcUaMachineSimulator]]:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/microfactory/"
    sim = OpcUaMachineSimulator(endpoint, SIM_SIGNALS)
    sim.start()
    yield endpoint, sim
    sim.stop()


def sample_batch(
    machine: str,
    seq: int,
    *,
    values: tuple[float, ...] = (1.0,),
    ts: datetime = T0,
    event_id: str | None = None,
) -> SampleBatch:
    return SampleBatch(
        event_id=event_id or f"{machine}-{seq}-{uuid.uuid4().hex[:6]}",
        machine=machine,
        seq=seq,
        ts=ts + timedelta(seconds=seq),
        samples=[Sample(signal=f"s{k}", value=v, unit="C") for k, v in enumerate(values)],
    )


def state_event(
    machine: str,
    seq: int,
    state: MachineState = MachineState.EXECUTING,
    mode: MachineMode = MachineMode.PROCESSING,
    reason: str | None = None,
    ts: datetime = T0,
) -> StateChanged:
    return StateChanged(
        event_id=f"{machine}-{seq}-{uuid.uuid4().hex[:6]}",
        machine=machine,
        seq=seq,
        ts=ts + timedelta(seconds=seq),
        state=state,
        mode=mode,
        reason=reason,
    )


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlTelemetryStore]:
    """For behaviour that does not depend on the database (validation, sequencing)."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield SqlTelemetryStore(engine)
    engine.dispose()
