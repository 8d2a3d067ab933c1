"""The hub applies each site's records once and in the site's order, whatever order, and
however often, the stream delivers them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from microfactory.services.network import HubConsumer, network_status
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.network_tables import SqlHubStore

STREAM = iter(range(1, 1_000_000))


@dataclass
class Msg:
    subject: str
    data: bytes
    acked: bool = False
    stream_seq: int = field(default_factory=lambda: next(STREAM))

    async def ack(self) -> None:
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:
        pass


def record(site: str, seq: int, epoch: str = "e1", kind: str = "counter") -> Msg:
    env = {
        "site": site,
        "epoch": epoch,
        "seq": seq,
        "kind": kind,
        "key": f"{site}-{seq}",
        "ts": f"2026-11-02T08:00:{seq % 60:02d}Z",
        "body": {"machine": "m1", "good": 1, "reject": 0, "event_id": f"{site}-{seq}"},
    }
    return Msg(f"mf.{site}.{kind}.m1", json.dumps(env).encode())


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(migrated_db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_db_url)
    upgrade(engine)
    yield SqlHubStore(engine)
    engine.dispose()


def feed(consumer: HubConsumer, msgs: list[Msg]) -> list[Msg]:
    ready, beats, acks = consumer.sort(msgs)
    consumer.commit(ready, beats)
    return acks


def test_out_of_order_records_wait_for_their_predecessor(store: SqlHubStore) -> None:
    consumer = HubConsumer(store)
    late = [record("a", 2), record("a", 3)]
    acks = feed(consumer, late)
    assert acks == [] and store.site_keys("a") == []  # held, unacknowledged
    acks = feed(consumer, [record("a", 1)])
    assert len(acks) == 3
    assert [s for s, _, _ in store.site_keys("a")] == [1, 2, 3]


def test_replays_and_redeliveries_change_nothing(store: SqlHubStore) -> None:
    consumer = HubConsumer(store)
    feed(consumer, [record("a", i) for i in (1, 2, 3)])
    acks = feed(consumer, [record("a", i) for i in (1, 2, 3)])
    assert len(acks) == 3  # acknowledged and dropped
    restarted = HubConsumer(store)  # a new hub process reads the watermark
    feed(restarted, [record("a", 2), record("a", 4)])
    assert [s for s, _, _ in store.site_keys("a")] == [1, 2, 3, 4]
    [site] = network_status(store)["sites"]
    assert site["events"] == 4 and site["lag_events"] == 0
    assert consumer.counters.duplicates == 3 and restarted.counters.duplicates == 1


def test_a_hole_that_never_fills_is_recorded_as_a_gap(store: SqlHubStore) -> None:
    clock = Clock()
    consumer = HubConsumer(store, gap_timeout_s=10, clock=clock)
    feed(consumer, [record("a", 1), record("a", 4)])
    clock.t = 5
    feed(consumer, [])
    assert [s for s, _, _ in store.site_keys("a")] == [1]
    clock.t = 20
    feed(consumer, [])
    assert [s for s, _, _ in store.site_keys("a")] == [1, 4]
    assert store.table("gaps")[0]["first_seq"] == 2


def test_a_recreated_site_starts_a_new_epoch(store: SqlHubStore) -> None:
    consumer = HubConsumer(store)
    feed(consumer, [record("a", 1), record("a", 2)])
    feed(consumer, [record("a", 1, epoch="e2", kind="state")])
    assert len(store.site_keys("a")) == 3


def test_one_acknowledgement_per_batch_never_reaches_a_held_message(store: SqlHubStore) -> None:
    first, held, other = record("a", 1), record("a", 3), record("b", 1)
    consumer = HubConsumer(store, ack_floor=first.stream_seq - 1)
    asyncio.run(consumer.acknowledge(feed(consumer, [first, held, other])))
    assert first.acked and not held.acked and not other.acked  # b-1 is above the held a-3
    late = record("a", 2)
    asyncio.run(consumer.acknowledge(feed(consumer, [late])))
    assert late.acked and not held.acked  # one ack (ack-all) covers the held a-3 too


def test_messages_delivered_to_a_hub_that_died_are_never_acknowledged_for_it(
    store: SqlHubStore,
) -> None:
    lost = [record("a", 1), record("a", 2)]  # delivered to the dead process, never stored
    after = [record("a", 3), record("b", 1)]
    consumer = HubConsumer(store, ack_floor=lost[0].stream_seq - 1)
    asyncio.run(consumer.acknowledge(feed(consumer, after)))
    assert not any(m.acked for m in after)  # acking b-1 would acknowledge a-1 and a-2 too
    asyncio.run(consumer.acknowledge(feed(consumer, lost)))  # redelivered after the ack wait
    assert after[-1].acked
    assert [s for s, _, _ in store.site_keys("a")] == [1, 2, 3]


def test_stream_sequences_that_never_come_are_stepped_over_after_the_timeout(
    store: SqlHubStore,
) -> None:
    clock = Clock()
    gone, later = record("a", 1), record("b", 1)  # `gone` was deleted by the stream's limits
    consumer = HubConsumer(store, gap_timeout_s=10, clock=clock, ack_floor=gone.stream_seq - 1)
    asyncio.run(consumer.acknowledge(feed(consumer, [later])))
    clock.t = 20
    asyncio.run(consumer.acknowledge(feed(consumer, [])))
    assert later.acked


def test_packed_records_are_applied_like_single_ones(store: SqlHubStore) -> None:
    from microfactory.services.network import pack
    from microfactory.store.outbox import OutboxMessage

    rows = [OutboxMessage(i, "mf.a.counter.m1", f"a:{i}", record("a", i).data) for i in (1, 2, 3)]
    [packed] = pack("a", rows, 50)
    assert packed.seq == 3 and packed.msg_id == "a:pack:1-3" and packed.subject == "mf.a.pack"
    consumer = HubConsumer(store)
    feed(consumer, [Msg(packed.subject, packed.payload)])
    feed(consumer, [Msg(packed.subject, packed.payload)])  # a re-published pack
    assert [s for s, _, _ in store.site_keys("a")] == [1, 2, 3]
    assert len(pack("a", rows, 2)) == 2 and pack("a", rows, 1) == rows


def test_counters_feed_the_fleet_view(store: SqlHubStore) -> None:
    consumer = HubConsumer(store)
    feed(consumer, [record("a", i) for i in range(1, 6)])
    [machine] = store.table("machines", site="a")
    assert machine["good"] == 5
    [day] = store.table("oee", site="a")
    assert day["good"] == 5
