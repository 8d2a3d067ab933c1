"""The versioned event model and the topic namespace."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from microfactory.core.errors import ValidationError
from microfactory.shopfloor.events import (
    JobEvent,
    Measurement,
    PartCounter,
    SampleBatch,
    StateChanged,
    parse_event,
)
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import parse_topic, subscription, topic_for, topic_matches

BASE = {"event_id": "e1", "machine": "cnc-01", "seq": 7, "ts": "2026-11-01T08:00:00Z"}


@pytest.mark.parametrize(
    ("extra", "cls"),
    [
        ({"kind": "state", "state": "Executing", "mode": "processing"}, StateChanged),
        (
            {"kind": "state", "state": "OutOfService", "mode": "maintenance", "reason": "spindle"},
            StateChanged,
        ),
        ({"kind": "counter", "good": 4, "reject": 1}, PartCounter),
        (
            {"kind": "sample", "samples": [{"signal": "temp", "value": 41.5, "unit": "C"}]},
            SampleBatch,
        ),
        ({"kind": "job", "action": "started", "work_order": "WO-1", "operation": "10"}, JobEvent),
        (
            {
                "kind": "measurement",
                "characteristic": "bore_d",
                "value": 12.003,
                "unit": "mm",
                "part_id": "P-9",
            },
            Measurement,
        ),
    ],
)
def test_each_kind_round_trips_through_its_wire_form(extra: dict[str, object], cls: type) -> None:
    event = parse_event(json.dumps({**BASE, **extra}))
    assert isinstance(event, cls)
    assert parse_event(event.to_json()) == event


def test_wire_form_carries_version_and_utc_z_timestamp() -> None:
    event = parse_event(json.dumps({**BASE, "ts": "2026-11-01T10:00:00+02:00", "kind": "counter"}))
    wire = json.loads(event.to_json())
    assert wire["v"] == 1
    assert wire["ts"] == "2026-11-01T08:00:00Z"
    assert event.ts == datetime(2026, 11, 1, 8, tzinfo=UTC)


def test_state_uses_opc_40001_states_and_modes() -> None:
    event = parse_event(json.dumps({**BASE, "kind": "state", "state": "NotAvailable"}))
    assert isinstance(event, StateChanged)
    assert event.state is MachineState.NOT_AVAILABLE
    assert event.mode is MachineMode.IDLE


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"{not json", "json"),  # broken JSON
        (b"", "json"),  # empty payload
        (json.dumps([1, 2]).encode(), "schema"),  # not an object
        (json.dumps({**BASE}).encode(), "schema"),  # no kind
        (json.dumps({**BASE, "kind": "weather"}).encode(), "schema"),  # unknown kind
        (json.dumps({**BASE, "kind": "counter", "v": 2}).encode(), "schema"),  # future version
        (
            json.dumps({**BASE, "kind": "counter", "ts": "2026-11-01T08:00:00"}).encode(),
            "schema",
        ),  # naive timestamp
        (json.dumps({**BASE, "kind": "counter", "ts": "yesterday"}).encode(), "schema"),
        (json.dumps({**BASE, "kind": "counter", "seq": -1}).encode(), "schema"),  # negative seq
        (json.dumps({**BASE, "kind": "counter", "good": -3}).encode(), "schema"),  # negative count
        (
            json.dumps({**BASE, "kind": "counter", "machine": "a/b"}).encode(),
            "schema",
        ),  # slash would break the topic tree
        (json.dumps({**BASE, "kind": "counter", "colour": "red"}).encode(), "schema"),  # extra
        (
            json.dumps({**BASE, "kind": "state", "state": "Running"}).encode(),
            "schema",
        ),  # not an OPC 40001-1 state
        (json.dumps({**BASE, "kind": "sample", "samples": []}).encode(), "schema"),  # empty batch
        (
            b'{"v":1,"event_id":"e","machine":"m","seq":1,"ts":"2026-11-01T08:00:00Z",'
            b'"kind":"sample","samples":[{"signal":"t","value":NaN}]}',
            "schema",
        ),  # NaN
        (
            json.dumps({**BASE, "kind": "job", "action": "started", "work_order": "WO-1"}).encode(),
            "schema",
        ),  # job without operation id
    ],
)
def test_bad_payload_is_refused_with_where_it_failed(payload: bytes, where: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_event(payload)
    assert info.value.where == where


def test_topic_is_built_and_parsed_in_the_unified_namespace() -> None:
    topic = topic_for("plant1", "machining", "cnc-01", "state")
    assert topic == "microfactory/v1/plant1/machining/cnc-01/state"
    parsed = parse_topic(topic)
    assert (parsed.site, parsed.area, parsed.machine, parsed.kind) == (
        "plant1",
        "machining",
        "cnc-01",
        "state",
    )


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/s/a/m/state",  # another root
        "microfactory/v2/s/a/m/state",  # another version
        "microfactory/v1/s/a/state",  # a level missing
        "microfactory/v1/s/a/m/temperature",  # unknown kind
        "microfactory/v1/s/a/m+/state",  # wildcard character in a name
    ],
)
def test_foreign_topic_is_refused(topic: str) -> None:
    with pytest.raises(ValidationError):
        parse_topic(topic)


def test_bad_segment_cannot_build_a_topic() -> None:
    with pytest.raises(ValueError, match="machine"):
        topic_for("s", "a", "m/x", "state")


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        (subscription(), "microfactory/v1/s/a/m/state", True),
        (subscription(machine="m"), "microfactory/v1/s/a/n/state", False),
        ("microfactory/#", "microfactory/v1/s/a/m/job", True),
        ("microfactory/v1/+/+/+/state", "microfactory/v1/s/a/m/sample", False),
        ("microfactory/v1/s/a/m/state", "microfactory/v1/s/a/m/state/x", False),
    ],
)
def test_topic_filters_match_like_mqtt(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected
