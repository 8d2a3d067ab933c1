"""Sequence numbers are not trusted blindly: a jump past the plausibility window is held for
review (stored, visible, not applied) until a person accepts or rejects it."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

from typer.testing import CliRunner

from microfactory.cli.main import app
from microfactory.connect.bus import InProcessBus, publish_event
from microfactory.core.clock import FixedClock
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import Event, Sample, SampleBatch, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0, sample_batch, state_event

NOW = T0 + timedelta(hours=1)
runner = CliRunner()


def jump(
    machine: str, seq: int, state: MachineState | None = None, reason: str | None = None
) -> Event:
    """An event with a (possibly huge) sequence number, stamped T0."""
    if state is None:
        return SampleBatch(
            event_id=f"{machine}-{seq}-{uuid.uuid4().hex[:6]}",
            machine=machine,
            seq=seq,
            ts=T0,
            samples=[Sample(signal="s0", value=1.0, unit="C")],
        )
    return StateChanged(
        event_id=f"{machine}-{seq}-{uuid.uuid4().hex[:6]}",
        machine=machine,
        seq=seq,
        ts=T0,
        state=state,
        reason=reason,
    )


def wire(events: list[Event]) -> list[tuple[str, bytes]]:
    return [(topic_for("p", "a", e.machine, e.kind), e.to_json()) for e in events]


def make(store: SqlTelemetryStore, **settings: Any) -> Ingester:
    return Ingester(store, clock=FixedClock(NOW), settings=IngestSettings(**settings))


def test_seq_jump_beyond_the_window_is_held_and_later_events_apply(
    store: SqlTelemetryStore,
) -> None:
    bogus = jump("m1", 10**15, MachineState.OUT_OF_SERVICE, reason="bogus")
    after = state_event("m1", 5, MachineState.EXECUTING, MachineMode.SETUP)
    make(store, seq_window=1000).process(
        wire([*(sample_batch("m1", i) for i in range(5)), bogus, after])
    )
    (status,) = store.machine_statuses()
    assert (status.last_seq, status.state, status.mode) == (
        5,
        MachineState.EXECUTING,
        MachineMode.SETUP,
    )
    counts = store.counts()
    assert (counts["events"], counts["quarantined"], counts["missing"]) == (6, 1, 0)
    (held,) = store.quarantine()
    assert (held.event_id, held.seq, held.status) == (bogus.event_id, 10**15, "pending")
    assert "window 1000" in held.reason


def test_first_event_of_a_machine_far_past_zero_is_held(sqlite_store: SqlTelemetryStore) -> None:
    result = make(sqlite_store, seq_window=100).process(wire([jump("m2", 2**63 - 1)]))
    assert ([q.seq for q in result.held], result.new) == ([2**63 - 1], [])
    assert sqlite_store.machine_statuses() == []


def test_redelivered_held_event_is_held_once(sqlite_store: SqlTelemetryStore) -> None:
    items = wire([sample_batch("m1", 0), sample_batch("m1", 50_000)])
    ingester = make(sqlite_store, seq_window=10)
    ingester.process(items)
    ingester.process(items)
    assert len(sqlite_store.quarantine()) == 1


def test_seq_values_near_2_63_never_break_machines_status(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    store = SqlTelemetryStore(engine)
    make(store, seq_window=None).process(  # trusting every jump: huge gaps
        wire([jump(m, 2**63 - 1, MachineState.EXECUTING) for m in ("m1", "m2")])
    )
    make(store).process(
        wire([jump("m3", 2**63 - 2, MachineState.EXECUTING)])
    )  # the default window: held
    engine.dispose()
    result = runner.invoke(app, ["machines", "status", "--db", sqlite_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(m["machine"], m["last_seq"]) for m in report["machines"]] == [
        ("m1", 2**63 - 1),
        ("m2", 2**63 - 1),
    ]
    assert report["totals"]["missing"] >= 2**64 - 2  # reported, not an overflow
    assert report["totals"]["quarantined"] == 1
    table = runner.invoke(app, ["machines", "status", "--db", sqlite_url])
    assert table.exit_code == 0, table.output


def test_accepting_a_held_jump_applies_it_and_releases_the_events_after_it(
    store: SqlTelemetryStore, migrated_db_url: str
) -> None:
    """A machine whose controller was replaced really does continue at 50,000: everything
    from there is held until a person accepts the jump; then it all goes in, in order."""
    ingester = make(store, seq_window=1000)
    jumped = [sample_batch("m1", 50_000 + i) for i in range(4)]
    ingester.process(wire([sample_batch("m1", i) for i in range(3)] + jumped))
    listed = runner.invoke(app, ["machines", "quarantine", "--db", migrated_db_url, "--json"])
    assert listed.exit_code == 0, listed.output
    held = json.loads(listed.stdout)["quarantined"]
    assert [(q["seq"], q["status"]) for q in held] == [(50_000 + i, "pending") for i in range(4)]
    accepted = runner.invoke(
        app, ["machines", "quarantine", "accept", str(held[0]["id"]), "--db", migrated_db_url]
    )
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.stdout)["changed"] == [held[0]["id"]]
    assert store.counts()["events"] == 3  # a decision alone changes no state
    assert ingester.apply_reviews() == 4
    (status,) = store.machine_statuses()
    assert (status.last_seq, status.events) == (50_003, 7)
    assert [(g.first, g.last) for g in store.gaps("m1")] == [(3, 49_999)]
    assert [q.status for q in store.quarantine()] == ["applied"] * 4
    counts = store.counts()
    assert (counts["events"], counts["quarantined"]) == (7, 0)
    assert ingester.apply_reviews() == 0  # applied once


def test_rejected_held_event_stays_out_even_when_redelivered(
    sqlite_store: SqlTelemetryStore, sqlite_url: str
) -> None:
    ingester = make(sqlite_store, seq_window=10)
    items = wire([sample_batch("m1", 0), jump("m1", 10**12)])
    ingester.process(items)
    (held,) = sqlite_store.quarantine()
    result = runner.invoke(
        app, ["machines", "quarantine", "reject", str(held.id), "--db", sqlite_url]
    )
    assert result.exit_code == 0, result.output
    ingester.process(items)
    assert ingester.apply_reviews() == 0
    assert [q.status for q in sqlite_store.quarantine()] == ["rejected"]
    assert sqlite_store.counts()["events"] == 1
    again = runner.invoke(
        app, ["machines", "quarantine", "accept", str(held.id), "--db", sqlite_url]
    )
    assert json.loads(again.stdout)["unchanged"] == [held.id]  # decided once


def test_running_consumer_applies_an_accepted_event_by_itself(
    sqlite_store: SqlTelemetryStore,
) -> None:
    ingester = make(sqlite_store, seq_window=10, review_poll_s=0.05)
    bus = InProcessBus()
    ingester.attach(bus, "microfactory/#")
    ingester.start()
    try:
        for e in (sample_batch("m1", 0), state_event("m1", 500, MachineState.OUT_OF_SERVICE)):
            publish_event(bus, e, site="p", area="a")
        assert ingester.drain(10)
        (held,) = sqlite_store.quarantine()
        sqlite_store.decide_quarantined([held.id], "accepted", NOW)
        deadline = time.monotonic() + 10
        while sqlite_store.counts()["events"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        ingester.stop()
    (status,) = sqlite_store.machine_statuses()
    assert (status.last_seq, status.state) == (500, MachineState.OUT_OF_SERVICE)
