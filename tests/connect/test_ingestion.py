"""The ingestion service on both stores: dedupe, gaps, dead letters, machine state, batching."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from microfactory.connect.bus import InProcessBus, publish_event
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ConnectorError
from microfactory.services.ingestion import Ingester, IngestSettings, machine_status_report
from microfactory.shopfloor.events import Event, MachineStatus, PartCounter
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0, sample_batch, state_event

NOW = T0 + timedelta(hours=1)


def wire(event: Event) -> tuple[str, bytes]:
    return topic_for("plant", "cell", event.machine, event.kind), event.to_json()


def make(store: SqlTelemetryStore, **kw: object) -> Ingester:
    return Ingester(store, clock=FixedClock(NOW), known_machines={"m1", "m2"}, **kw)  # type: ignore[arg-type]


def test_replayed_batch_is_stored_once(store: SqlTelemetryStore) -> None:
    batch = [wire(sample_batch("m1", i, values=(1.0, 2.0))) for i in range(20)]
    ingester = make(store)
    ingester.process(batch)
    second = ingester.process(batch)
    assert (len(second.new), second.duplicates) == (0, 20)
    counts = store.counts()
    assert (counts["events"], counts["samples"]) == (20, 40)
    assert ingester.counters.duplicates == 20


def test_same_event_twice_in_one_batch_is_stored_once(store: SqlTelemetryStore) -> None:
    event = wire(sample_batch("m1", 0, values=(5.0,)))
    result = make(store).process([event, event])
    assert (len(result.new), result.duplicates) == (1, 1)
    assert store.counts()["samples"] == 1


def test_missing_sequence_numbers_are_recorded_as_a_gap(store: SqlTelemetryStore) -> None:
    ingester = make(store)
    ingester.process([wire(sample_batch("m1", s)) for s in (0, 1, 2, 5, 6)])
    gaps = store.gaps("m1")
    assert [(g.machine, g.first, g.last) for g in gaps] == [("m1", 3, 4)]
    assert ingester.counters.missing == 2


def test_late_event_is_taken_out_of_its_gap(store: SqlTelemetryStore) -> None:
    ingester = make(store)
    ingester.process([wire(sample_batch("m1", s)) for s in (0, 4)])
    ingester.process([wire(sample_batch("m1", 2))])
    assert [(g.first, g.last) for g in store.gaps("m1")] == [(1, 1), (3, 3)]
    assert ingester.counters.missing == 2


def test_first_event_after_zero_reports_the_earlier_range_lost(
    sqlite_store: SqlTelemetryStore,
) -> None:
    make(sqlite_store).process([wire(sample_batch("m2", 3))])
    assert [(g.first, g.last) for g in sqlite_store.gaps("m2")] == [(0, 2)]


def test_gap_detection_continues_after_a_restart(sqlite_store: SqlTelemetryStore) -> None:
    make(sqlite_store).process([wire(sample_batch("m1", s)) for s in (0, 1)])
    make(sqlite_store).process([wire(sample_batch("m1", s)) for s in (2, 3)])  # a new ingester
    assert sqlite_store.gaps() == []


BAD = [
    # (topic, payload, code) — one row per kind of malformed message
    ("microfactory/v1/plant/cell/m1/state", b"{oops", "json"),
    ("microfactory/v1/plant/cell/m1/state", b'{"v":1,"kind":"state"}', "schema"),
    (
        "microfactory/v1/plant/cell/m1/counter",
        json.dumps(
            {
                "v": 1,
                "event_id": "x1",
                "machine": "m1",
                "seq": 0,
                "ts": "2026-11-01T08:00:00Z",
                "kind": "state",
                "state": "Executing",
            }
        ).encode(),
        "schema",
    ),  # payload kind disagrees with the topic
    (
        "microfactory/v1/plant/cell/m2/state",
        json.dumps(
            {
                "v": 1,
                "event_id": "x2",
                "machine": "m1",
                "seq": 0,
                "ts": "2026-11-01T08:00:00Z",
                "kind": "state",
                "state": "Executing",
            }
        ).encode(),
        "schema",
    ),  # payload machine disagrees with the topic
    (
        "microfactory/v1/plant/cell/m9/state",
        json.dumps(
            {
                "v": 1,
                "event_id": "x3",
                "machine": "m9",
                "seq": 0,
                "ts": "2026-11-01T08:00:00Z",
                "kind": "state",
                "state": "Executing",
            }
        ).encode(),
        "unknown_machine",
    ),
    (
        "microfactory/v1/plant/cell/m1/state",
        json.dumps(
            {
                "v": 1,
                "event_id": "x4",
                "machine": "m1",
                "seq": 0,
                "ts": "1970-01-01T00:00:00Z",
                "kind": "state",
                "state": "Executing",
            }
        ).encode(),
        "timestamp",
    ),  # the epoch: a machine without a clock
    (
        "microfactory/v1/plant/cell/m1/state",
        json.dumps(
            {
                "v": 1,
                "event_id": "x5",
                "machine": "m1",
                "seq": 0,
                "ts": "2036-11-01T08:00:00Z",
                "kind": "state",
                "state": "Executing",
            }
        ).encode(),
        "timestamp",
    ),  # ten years ahead
    ("microfactory/v1/plant/cell/m1/state", b"{" + b" " * 300_000 + b"}", "oversize"),
    ("somebody/else/m1", b"{}", "topic"),
]


@pytest.mark.parametrize(("topic", "payload", "code"), BAD, ids=[b[2] for b in BAD])
def test_malformed_message_goes_to_dead_letters_with_reason_and_payload(
    sqlite_store: SqlTelemetryStore, topic: str, payload: bytes, code: str
) -> None:
    result = make(sqlite_store).process([(topic, payload), wire(sample_batch("m1", 0))])
    assert len(result.new) == 1  # the valid neighbour is stored
    (letter,) = sqlite_store.dead_letters()
    assert letter.code == code
    assert letter.reason
    assert letter.topic == topic
    assert letter.payload == payload[:65536]


def test_machine_state_follows_state_and_counter_events(store: SqlTelemetryStore) -> None:
    ingester = make(store)
    ingester.process(
        [
            wire(state_event("m1", 0, MachineState.EXECUTING, MachineMode.PROCESSING)),
            wire(PartCounter(event_id="c1", machine="m1", seq=1, ts=T0, good=5, reject=1)),
            wire(
                state_event(
                    "m1",
                    2,
                    MachineState.OUT_OF_SERVICE,
                    MachineMode.MAINTENANCE,
                    reason="spindle_bearing",
                )
            ),
            wire(PartCounter(event_id="c2", machine="m1", seq=3, ts=T0, good=2)),
        ]
    )
    (status,) = store.machine_statuses()
    assert (status.state, status.mode, status.reason) == (
        MachineState.OUT_OF_SERVICE,
        MachineMode.MAINTENANCE,
        "spindle_bearing",
    )
    assert status.since == T0 + timedelta(seconds=2)
    assert (status.good, status.reject, status.last_seq, status.events) == (7, 1, 3, 4)


def test_late_state_event_does_not_overwrite_a_newer_state(sqlite_store: SqlTelemetryStore) -> None:
    ingester = make(sqlite_store)
    ingester.process(
        [
            wire(state_event("m1", 0)),
            wire(state_event("m1", 2, MachineState.NOT_EXECUTING, MachineMode.SETUP)),
        ]
    )
    ingester.process([wire(state_event("m1", 1, MachineState.OUT_OF_SERVICE))])
    (status,) = sqlite_store.machine_statuses()
    assert status.state is MachineState.NOT_EXECUTING


def test_status_report_lists_lost_ranges_per_machine(store: SqlTelemetryStore) -> None:
    make(store).process([wire(sample_batch("m1", s)) for s in (0, 3)])
    report = machine_status_report(store)
    (m1,) = report["machines"]
    assert (m1["machine"], m1["missing"], m1["gaps"]) == ("m1", 2, [[1, 2]])
    assert report["totals"]["events"] == 2


def test_consumer_batches_are_bounded_by_size(sqlite_store: SqlTelemetryStore) -> None:
    ingester = make(sqlite_store, settings=IngestSettings(max_batch=10, max_delay_s=0.5))
    bus = InProcessBus()
    ingester.attach(bus, "microfactory/#")
    ingester.start()
    for s in range(35):
        publish_event(bus, sample_batch("m1", s), site="plant", area="cell")
    assert ingester.drain(30)
    ingester.stop()
    assert ingester.counters.ingested == 35
    assert ingester.counters.batches >= 4


def test_consumer_commits_a_lone_message_within_the_time_bound(
    sqlite_store: SqlTelemetryStore,
) -> None:
    ingester = make(sqlite_store, settings=IngestSettings(max_batch=1000, max_delay_s=0.05))
    bus = InProcessBus()
    ingester.attach(bus, "microfactory/#")
    ingester.start()
    publish_event(bus, sample_batch("m2", 0), site="plant", area="cell")
    assert ingester.drain(10)
    ingester.stop()
    assert sqlite_store.counts()["events"] == 1


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        IngestSettings(max_batch=0)


def test_dead_letter_keeps_raw_payload_on_each_store(store: SqlTelemetryStore) -> None:
    raw = b"\x00\xffnot an event"
    make(store).process([("microfactory/v1/plant/cell/m1/state", raw)])
    (letter,) = store.dead_letters()
    assert (letter.code, letter.payload) == ("json", raw)


def test_in_process_events_get_the_same_checks_and_dedup(sqlite_store: SqlTelemetryStore) -> None:
    ingester = make(sqlite_store)
    events = [sample_batch("m1", 0), sample_batch("m1", 2), sample_batch("m9", 0)]
    first = ingester.process_events(events)
    again = ingester.process_events(events[:2])
    assert (len(first.new), [d.code for d in first.dead], again.duplicates) == (
        2,
        ["unknown_machine"],
        2,
    )
    assert [(g.first, g.last) for g in sqlite_store.gaps("m1")] == [(1, 1)]


class FailsOnce:
    """The real store, with one injected fault: the first transaction that writes events
    loses the database after the events were written (so the whole transaction rolls back)."""

    def __init__(self, store: SqlTelemetryStore) -> None:
        self.store = store
        self.failed = False

    def machine_statuses(self) -> list[MachineStatus]:
        return self.store.machine_statuses()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.store.transaction() as tx:
            wrote: list[int] = []
            insert = tx.insert_events
            tx.insert_events = lambda events, us: (wrote.append(len(events)), insert(events, us))[1]  # type: ignore[method-assign]
            yield tx
            if not self.failed and wrote and wrote[0]:
                self.failed = True
                raise ConnectorError("database went away")


def test_unreachable_database_is_retried_without_losing_or_skewing_anything(
    sqlite_store: SqlTelemetryStore,
) -> None:
    ingester = Ingester(
        FailsOnce(sqlite_store), clock=FixedClock(NOW), settings=IngestSettings(max_delay_s=0.05)
    )
    bus = InProcessBus()
    ingester.attach(bus, "microfactory/#")
    ingester.start()
    for s in range(5):
        publish_event(bus, sample_batch("m1", s), site="plant", area="cell")
    assert ingester.drain(30)
    ingester.stop()
    assert ingester.counters.db_retries >= 1
    assert (ingester.counters.ingested, ingester.counters.late) == (5, 0)
    assert sqlite_store.counts()["events"] == 5
    assert sqlite_store.gaps() == []
    (status,) = sqlite_store.machine_statuses()
    assert (status.last_seq, status.events) == (4, 5)
