"""Splitting a machine's stream of states and samples into lives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.core import ValidationError
from microfactory.maintenance.lives import LifeTracker

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_run_hours_count_only_processing_time() -> None:
    tracker = LifeTracker(("t",))
    tracker.state(at(0), processing=True)
    tracker.sample(at(30), {"t": 1.0})
    tracker.state(at(60), processing=False)
    tracker.sample(at(120), {"t": 2.0})
    tracker.state(at(180), processing=True)
    tracker.sample(at(210), {"t": 3.0})
    h = tracker.current()
    assert h.run_hours.tolist() == [0.5, 1.0, 1.5]
    assert h.running.tolist() == [True, False, True]


def test_breakdown_closes_a_failed_life_and_repair_starts_a_new_one() -> None:
    tracker = LifeTracker(("t",))
    tracker.state(at(0), processing=True)
    tracker.sample(at(10), {"t": 1.0})
    tracker.state(at(20), processing=False, reason="breakdown:spindle_bearing")
    assert not tracker.sample(at(30), {"t": 9.0})  # down: not part of a life
    tracker.state(at(90), processing=True, reason="repaired")
    tracker.sample(at(120), {"t": 1.5})
    assert [life.failed for life in tracker.completed] == [True]
    assert tracker.completed[0].history.n_samples == 1
    assert tracker.current().run_hours.tolist() == [0.5]


def test_maintenance_closes_a_censored_life() -> None:
    tracker = LifeTracker(("t",))
    tracker.sample(at(1), {"t": 1.0})
    tracker.state(at(2), processing=False, reason="pm:PDM-00001")
    tracker.state(at(60), processing=False, reason="pm_done:PDM-00001")
    assert [life.failed for life in tracker.completed] == [False]
    assert tracker.alive


def test_incomplete_row_is_ignored() -> None:
    tracker = LifeTracker(("t", "v"))
    assert not tracker.sample(at(1), {"t": 1.0})
    assert tracker.current().n_samples == 0


def test_events_out_of_order_raise() -> None:
    tracker = LifeTracker(("t",))
    tracker.sample(at(5), {"t": 1.0})
    with pytest.raises(ValidationError, match="out of order"):
        tracker.state(at(4), processing=True)
