"""The sample-batch fast path (typed-dict validator, compact rows) against the model.

Invariant: the fast path accepts a payload only if `parse_event(payload, "sample")` accepts it,
with the same content; everything else it hands back (None) so that the model refuses it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.services.ingestion import Ingester
from microfactory.shopfloor.events import (
    SampleBatch,
    SampleRows,
    parse_event,
    parse_sample_batch_fast,
)
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0

GOOD: dict[str, Any] = {
    "v": 1,
    "event_id": "e1",
    "machine": "cnc-01",
    "seq": 7,
    "ts": "2026-11-01T08:00:00Z",
    "kind": "sample",
    "samples": [
        {"signal": "temp", "value": 41.5, "unit": "C"},
        {"signal": "vib", "value": 2, "ts": "2026-11-01T08:00:00.250Z"},
    ],
}


def body(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is ...:
            del out[key]
        else:
            out[key] = value
    return out


def sample(**changes: Any) -> dict[str, Any]:
    first = {**GOOD["samples"][0], **changes}
    return body(samples=[{k: v for k, v in first.items() if v is not ...}])


def slow(payload: bytes) -> SampleBatch | None:
    try:
        event = parse_event(payload, "sample")
    except ValidationError:
        return None
    assert isinstance(event, SampleBatch)
    return event


def assert_same(payload: bytes) -> bool:
    """Fast and slow path agree on `payload`; return whether it was accepted."""
    model = slow(payload)
    rows = parse_sample_batch_fast(payload)
    if rows is None:
        assert model is None, f"fast path refused a valid payload: {payload[:200]!r}"
        return False
    assert model is not None, f"fast path accepted what the model refuses: {payload[:200]!r}"
    assert (rows.event_id, rows.machine, rows.seq, rows.ts) == (
        model.event_id,
        model.machine,
        model.seq,
        model.ts,
    )
    assert rows.samples == tuple((s.signal, s.value, s.unit, s.ts) for s in model.samples)
    assert rows.to_event() == model
    return True


# accepted by both, in forms other than the canonical wire form
@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        body(v=...),  # version defaults to 1
        body(kind=...),  # kind defaults to the topic's
        body(ts="2026-11-01T09:00:00+01:00"),  # another offset: same instant in UTC
        body(ts="2026-11-01T08:00:00.123456Z"),  # microseconds
        sample(value="3.25"),  # a number as a string (lax mode, as the model)
        sample(value=10**20),  # a big integer
        sample(ts=None),  # explicit null sample time
        sample(unit=...),  # unit defaults to ""
        body(event_id="x" * 64),  # longest event id
        body(seq=2**63 - 1),  # largest seq
        body(seq=True),  # the model's lax mode reads true as 1; so must the fast path
    ],
)
def test_fast_path_accepts_what_the_model_accepts_with_the_same_content(
    data: dict[str, Any],
) -> None:
    assert assert_same(json.dumps(data).encode())


# refused by both (the model gives the reason)
@pytest.mark.parametrize(
    "payload",
    [
        b"",  # empty
        b"{",  # broken JSON
        b"[]",  # not an object
        b'{"event_id": "e1"}',  # fields missing
        json.dumps(body(v=2)).encode(),  # unknown version
        json.dumps(body(kind="state")).encode(),  # another kind
        json.dumps(body(extra=1)).encode(),  # unknown field
        json.dumps(body(event_id="")).encode(),  # empty event id
        json.dumps(body(event_id="x" * 65)).encode(),  # event id too long
        json.dumps(body(machine="bad machine")).encode(),  # name pattern
        json.dumps(body(machine="m1\n")).encode(),  # trailing newline in a name
        json.dumps(body(seq=-1)).encode(),  # negative seq
        json.dumps(body(seq=2**63)).encode(),  # seq out of range
        json.dumps(body(ts="2026-11-01T08:00:00")).encode(),  # naive time
        json.dumps(body(ts="yesterday")).encode(),  # not a time
        json.dumps(body(ts=None)).encode(),  # null time
        json.dumps(body(samples=[])).encode(),  # no samples
        json.dumps(body(samples=[1])).encode(),  # a sample that is not an object
        json.dumps(sample(value=float("nan"))).encode(),  # NaN
        json.dumps(sample(value=float("inf"))).encode(),  # infinity
        json.dumps(sample(value="hot")).encode(),  # not a number
        json.dumps(sample(value=None)).encode(),  # null value
        json.dumps(sample(signal="")).encode(),  # empty signal
        json.dumps(sample(unit="u" * 33)).encode(),  # unit too long
        json.dumps(sample(unit=None)).encode(),  # null unit
        json.dumps(sample(colour="red")).encode(),  # unknown sample field
        json.dumps(sample(ts="noon")).encode(),  # bad sample time
        json.dumps(body()).encode("utf-16"),  # not UTF-8
    ],
)
def test_fast_path_refuses_what_the_model_refuses(payload: bytes) -> None:
    assert not assert_same(payload)


def _mutate(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    values: list[Any] = [None, True, -1, 0, 1.5, 2**63, "", "x" * 70, "a b", [], {}, "1e3"]
    values += ["2026-11-01T08:00:00", "2026-02-30T00:00:00Z", float("nan"), "12", 10**30]
    out = json.loads(json.dumps(data))
    target = out if rng.random() < 0.5 else rng.choice(out["samples"])
    keys = [*target, "extra"]
    key = rng.choice(keys)
    if rng.random() < 0.15:
        target.pop(key, None)
    else:
        target[key] = rng.choice(values)
    return out


def test_a_thousand_mutated_payloads_get_the_same_verdict_on_both_paths() -> None:
    rng = random.Random(4)
    accepted = refused = 0
    for _ in range(1000):
        payload = json.dumps(_mutate(rng, GOOD)).encode()
        if rng.random() < 0.1:
            payload = payload[: rng.randrange(len(payload))]  # truncated
        if assert_same(payload):
            accepted += 1
        else:
            refused += 1
    assert accepted > 50 and refused > 500  # both verdicts well exercised


def test_ingester_dead_letters_a_bad_sample_batch_with_the_models_reason(
    sqlite_store: SqlTelemetryStore,
) -> None:
    payload = json.dumps(sample(value="hot")).encode()
    with pytest.raises(ValidationError) as expected:
        parse_event(payload, "sample")
    ingester = Ingester(sqlite_store, clock=FixedClock(T0), known_machines={"cnc-01"})
    topic = topic_for("plant", "cell", "cnc-01", "sample")
    result = ingester.process([(topic, payload), (topic, json.dumps(GOOD).encode())])
    assert [(d.code, d.reason) for d in result.dead] == [("schema", expected.value.reason)]
    assert isinstance(result.stored[0], SampleRows)
    assert result.new == [parse_event(json.dumps(GOOD).encode(), "sample")]
    assert sqlite_store.counts()["samples"] == 2
