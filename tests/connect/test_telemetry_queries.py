"""Range queries, downsampling and retention on both stores; downsampling is checked against
an independent recomputation in plain Python."""

from __future__ import annotations

import statistics
from datetime import timedelta

from microfactory.core.clock import FixedClock
from microfactory.services.ingestion import Ingester, apply_retention
from microfactory.shopfloor.events import Sample, SampleBatch
from microfactory.shopfloor.topics import topic_for
from microfactory.store.telemetry_tables import SqlTelemetryStore

from .conftest import T0

# one value per second for 60 s: a saw tooth with a spike, so min, max and mean all differ
VALUES = [float((i * 7) % 13) + (100.0 if i == 42 else 0.0) for i in range(60)]


def load(store: SqlTelemetryStore) -> None:
    events = [
        SampleBatch(
            event_id=f"e{i}",
            machine="m1",
            seq=i,
            ts=T0 + timedelta(seconds=i),
            samples=[
                Sample(signal="temp", value=v, unit="C"),
                Sample(signal="vib", value=-v, unit="mm/s"),
            ],
        )
        for i, v in enumerate(VALUES)
    ]
    ingester = Ingester(store, clock=FixedClock(T0 + timedelta(hours=1)))
    ingester.process([(topic_for("p", "a", "m1", "sample"), e.to_json()) for e in events])


def test_range_query_returns_one_signal_in_half_open_window(store: SqlTelemetryStore) -> None:
    load(store)
    rows = store.samples("m1", "temp", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    assert [ts for ts, _ in rows] == [T0 + timedelta(seconds=s) for s in range(10, 20)]
    assert [v for _, v in rows] == VALUES[10:20]


def test_downsampling_matches_an_independent_recomputation(store: SqlTelemetryStore) -> None:
    load(store)
    buckets = store.downsample("m1", "temp", T0, T0 + timedelta(seconds=60), timedelta(seconds=15))
    expected = [VALUES[k : k + 15] for k in range(0, 60, 15)]
    assert [b.start for b in buckets] == [T0 + timedelta(seconds=k) for k in range(0, 60, 15)]
    assert [b.count for b in buckets] == [15] * 4
    assert [b.min for b in buckets] == [min(x) for x in expected]
    assert [b.max for b in buckets] == [max(x) for x in expected]
    for bucket, values in zip(buckets, expected, strict=True):
        assert abs(bucket.mean - statistics.fmean(values)) < 1e-9


def test_downsampling_leaves_out_empty_buckets(store: SqlTelemetryStore) -> None:
    load(store)
    buckets = store.downsample(
        "m1", "vib", T0 - timedelta(minutes=5), T0 + timedelta(minutes=5), timedelta(minutes=1)
    )
    assert sum(b.count for b in buckets) == 60
    assert len(buckets) == 1  # all 60 samples lie in the bucket starting 5 min before T0


def test_retention_deletes_only_what_is_older_than_the_cutoff(store: SqlTelemetryStore) -> None:
    load(store)
    clock = FixedClock(T0 + timedelta(days=30, seconds=30))
    result = apply_retention(store, clock, timedelta(days=30))
    assert (result["samples"], result["events"]) == (60, 30)
    left = store.samples("m1", "temp", T0, T0 + timedelta(days=1))
    assert [v for _, v in left] == VALUES[30:]
