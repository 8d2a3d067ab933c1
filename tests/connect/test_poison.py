"""Poison messages never stop ingestion, on SQLite and PostgreSQL: whatever a schema-valid
message holds can be stored; whatever fails while decoding one message, or in the store for one
message, makes that message a dead letter and the rest go in; dead letters are stored once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from microfactory.connect.bus import Message, publish_event
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.core.clock import FixedClock, SystemClock
from microfactory.core.errors import ConnectorError
from microfactory.services import ingestion
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.shopfloor.events import MachineStatus, PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineState
from microfactory.shopfloor.topics import subscription, topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0, sample_batch

NOW = T0 + timedelta(hours=1)
INT64_MAX = 2**63 - 1
TS = "2026-11-01T08:00:00Z"


def payload(kind: str, **fields: Any) -> tuple[str, bytes]:
    body = {"v": 1, "event_id": f"p-{kind}-{len(fields)}", "machine": "m1", "seq": 0, "ts": TS}
    body.update(kind=kind, **fields)
    return topic_for("plant", "cell", "m1", kind), json.dumps(body).encode()


def make(store: SqlTelemetryStore, **kw: Any) -> Ingester:
    return Ingester(store, clock=FixedClock(NOW), known_machines={"m1", "m2"}, **kw)


POISON = [
    # (message, dead-letter code) — each was schema-valid, or crashed the ingester, before
    (payload("counter", good=2**63), "schema"),  # past BIGINT: OverflowError / DataError
    (payload("counter", good=2**31), "schema"),  # more parts in one event than MAX_PARTS
    (payload("counter", reject=2**64), "schema"),
    (payload("job", action="finished", work_order="w", operation="o", good=2**63), "schema"),
    (payload("counter", good=1, event_id="a\u0000b"), "schema"),  # NUL: PostgreSQL refuses
    (payload("counter", good=1, work_order="w\u0000"), "schema"),
    (payload("state", state="OutOfService", reason="r\u0000"), "schema"),
    (payload("sample", samples=[{"signal": "t", "value": 1.0, "unit": "C\u0000"}]), "schema"),
    (payload("measurement", characteristic="d", value=1.0, lot_id="\u0000"), "schema"),
    (payload("state", state="Executing", ts="0001-01-01T00:00:00+01:00"), "schema"),  # year 0
    (payload("state", state="Executing", ts="9999-12-31T23:59:59-01:00"), "schema"),  # 10000
    (payload("state", state="Executing", seq=2**63), "schema"),
    (payload("sample", samples=[{"signal": "t", "value": 1.0, "ts": "0001-01-01T00:00:00Z"}]),
     "timestamp"),  # a sample of year 1 inside a batch of today
    (payload("sample", samples=[{"signal": "t", "value": 1.0, "ts": "9999-12-31T00:00:00Z"}]),
     "timestamp"),  # a sample of year 9999
    (payload("sample", samples=[{"signal": "t", "value": 1.0},
                                {"signal": "t", "value": 2.0, "ts": "2027-06-01T00:00:00Z"}]),
     "timestamp"),  # the second sample beyond max_future
]  # fmt: skip


@pytest.mark.parametrize(("message", "code"), POISON, ids=[str(i) for i in range(len(POISON))])
def test_schema_edge_values_are_dead_letters_and_the_batch_goes_in(
    store: SqlTelemetryStore, message: tuple[str, bytes], code: str
) -> None:
    good = sample_batch("m1", 1, values=(5.0,))
    result = make(store).process([message, (topic_for("p", "a", "m1", "sample"), good.to_json())])
    assert [d.code for d in result.dead] == [code]
    assert result.dead[0].reason
    assert [e.event_id for e in result.new] == [good.event_id]
    counts = store.counts()
    assert (counts["events"], counts["samples"], counts["dead_letters"]) == (1, 1, 1)


def test_running_part_totals_saturate_at_the_bigint_limit(store: SqlTelemetryStore) -> None:
    with store.transaction() as tx:
        tx.save_statuses([MachineStatus("m1", last_seq=0, good=INT64_MAX - 5, reject=INT64_MAX)])
    ingester = make(store)
    counter = PartCounter(event_id="c", machine="m1", seq=1, ts=T0, good=100, reject=2**31 - 1)
    ingester.process([(topic_for("p", "a", "m1", "counter"), counter.to_json())])
    (status,) = store.machine_statuses()
    assert (status.good, status.reject, status.last_seq) == (INT64_MAX, INT64_MAX, 1)


def test_any_exception_while_decoding_one_message_makes_it_a_dead_letter(
    sqlite_store: SqlTelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the sample decoder fails in a way no rule foresaw (as the time-zone
    overflow of year 1 did) for one payload; that message becomes a dead letter."""
    real = ingestion.parse_sample_batch_fast

    def decoder_with_a_bug(raw: bytes) -> Any:
        if b'"m2"' in raw:
            raise RuntimeError("decoder bug")
        return real(raw)

    monkeypatch.setattr(ingestion, "parse_sample_batch_fast", decoder_with_a_bug)
    m1, m2 = sample_batch("m1", 0), sample_batch("m2", 0)
    result = make(sqlite_store).process(wire_all([m2, m1]))
    assert [(d.code, d.reason) for d in result.dead] == [("decode", "RuntimeError: decoder bug")]
    assert result.dead[0].payload == m2.to_json()
    assert [e.event_id for e in result.new] == [m1.event_id]


def test_unvalidated_in_process_event_becomes_a_dead_letter(
    sqlite_store: SqlTelemetryStore,
) -> None:
    """An in-process producer that builds an event without validation (`model_construct`)
    and a naive timestamp: a dead letter, not an exception in the producer's loop."""
    naive = StateChanged.model_construct(
        event_id="n1",
        machine="m1",
        seq=0,
        ts=datetime(2026, 11, 1, 8),
        state=MachineState.EXECUTING,
    )
    result = make(sqlite_store).process_events([naive, sample_batch("m1", 1)])
    assert [d.code for d in result.dead] == ["decode"]
    assert "TypeError" in result.dead[0].reason
    assert len(result.new) == 1


# A store that refuses one message: a real trigger in each database ------------------------------

TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON tm_events "
        "WHEN NEW.event_id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
        "IF NEW.event_id LIKE 'poison%' THEN RAISE EXCEPTION 'refused by trigger'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON tm_events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}
REFUSE_ALL_LETTERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_letters BEFORE INSERT ON tm_dead_letters "
        "BEGIN SELECT RAISE(ABORT, 'dead letters refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_letters() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'dead letters refused'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_letters BEFORE INSERT ON tm_dead_letters "
        "FOR EACH ROW EXECUTE FUNCTION refuse_letters()",
    ],
}


def install(engine: Engine, statements: dict[str, list[str]]) -> None:
    with engine.begin() as conn:
        for sql in statements[engine.dialect.name]:
            conn.execute(text(sql))


@pytest.fixture
def refusing(store: SqlTelemetryStore) -> Iterator[SqlTelemetryStore]:
    """The store, refusing (in the database) every event whose id starts with 'poison'."""
    install(store.engine, TRIGGERS)
    yield store


def wire_all(events: list[Any]) -> list[tuple[str, bytes]]:
    return [(topic_for("p", "a", e.machine, e.kind), e.to_json()) for e in events]


def test_message_the_store_refuses_is_isolated_and_the_rest_is_committed(
    refusing: SqlTelemetryStore,
) -> None:
    events = [
        sample_batch("m1", i, event_id=f"poison-{i}" if i in (7, 31) else None) for i in range(40)
    ]
    result = make(refusing).process(wire_all(events))
    assert sorted((d.code, d.payload) for d in result.dead) == sorted(
        ("poison", events[i].to_json()) for i in (7, 31)
    )
    assert all("refused by trigger" in d.reason for d in result.dead)
    assert len(result.new) == 38
    counts = refusing.counts()
    assert (counts["events"], counts["dead_letters"]) == (38, 2)
    assert [(g.first, g.last) for g in refusing.gaps("m1")] == [(7, 7), (31, 31)]


def test_store_refusing_even_dead_letters_is_retried_not_dead_lettered(
    refusing: SqlTelemetryStore,
) -> None:
    install(refusing.engine, REFUSE_ALL_LETTERS)
    events = [sample_batch("m1", 0), sample_batch("m1", 1, event_id="poison-1")]
    with pytest.raises(ConnectorError, match="refuses even a dead letter"):
        make(refusing).process(wire_all(events))
    counts = refusing.counts()
    assert (counts["dead_letters"], counts["events"]) == (0, 1)  # the innocent one went in


def test_redelivered_bad_message_is_stored_once(store: SqlTelemetryStore) -> None:
    bad = (topic_for("p", "a", "m1", "state"), b"{not json")
    other = (topic_for("p", "a", "m1", "state"), b"{not json either")
    ingester = make(store)
    ingester.process([bad, bad, other])
    ingester.process([bad])  # the broker redelivers it
    assert store.counts()["dead_letters"] == 2
    assert ingester.counters.dead_lettered == 4  # every delivery is counted


@pytest.mark.mqtt
def test_poison_over_mqtt_is_acknowledged_and_never_blocks_the_rest(
    refusing: SqlTelemetryStore, mqtt_broker: tuple[str, int], root: str
) -> None:
    """Over the real Mosquitto: values no database stores, events the store refuses and good
    events interleaved. Every good event is stored, every poison message is a dead letter, the
    consumer keeps running, and nothing comes back after a reconnect (all acknowledged)."""
    host, port = mqtt_broker
    settings = MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"in-{root}")
    now = datetime.now(UTC).replace(microsecond=0)
    good = [sample_batch("m1", i, ts=now) for i in range(60)]
    refused = sample_batch("m2", 0, ts=now, event_id="poison-trigger")
    ingester = Ingester(
        refusing,
        clock=SystemClock(),
        known_machines={"m1", "m2"},
        settings=IngestSettings(root=root, max_delay_s=0.05),
    )
    bus = MqttBus(settings)
    ingester.start()
    ingester.attach(bus)
    pub = MqttBus(MqttSettings(host=host, port=port, session_expiry_s=60, client_id=f"p-{root}"))
    poison = [
        (topic_for("p", "a", "m1", "counter", root), payload("counter", good=2**63)[1]),
        (topic_for("p", "a", "m1", "state", root), payload("state", state="Executing",
                                                           reason="\u0000")[1]),
        (topic_for("p", "a", "m2", "sample", root), refused.to_json()),
    ]  # fmt: skip
    try:
        for i, event in enumerate(good):
            publish_event(pub, event, site="p", area="a", root=root)
            if i % 20 == 10:
                pub.publish(*poison[i // 20])
        assert pub.flush(30)
        deadline = time.monotonic() + 30
        while ingester.counters.received < 63 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ingester.drain(30)
        assert ingester.error is None
        assert ingester.counters.dead_by_code == {"schema": 2, "poison": 1}
    finally:
        bus.close()
        ingester.stop()
    counts = refusing.counts()
    assert (counts["events"], counts["dead_letters"]) == (60, 3)
    # everything was acknowledged: the session holds nothing to redeliver
    again: list[Message] = []
    bus = MqttBus(settings)
    bus.subscribe(subscription(root), again.append)
    time.sleep(1.0)
    bus.close()
    assert again == []
