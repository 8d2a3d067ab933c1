"""Capable-to-promise insertion: gaps, calendars, plates in parallel, steps in sequence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.core.errors import InfeasibleError
from microfactory.quoting.ctp import Step, free_gaps, promise

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_free_gaps_subtract_busy_from_working_time() -> None:
    gaps = free_gaps([(T0 + H, T0 + 2 * H)], [(T0, T0 + 4 * H)], T0, T0 + 10 * H)
    assert gaps == [(T0, T0 + H), (T0 + 2 * H, T0 + 4 * H)]


def test_job_goes_into_the_first_gap_long_enough() -> None:
    busy = {"m1": [(T0 + H, T0 + 2 * H), (T0 + 3 * H, T0 + 6 * H)]}
    p = promise([Step("print", ("m1",), 90)], now=T0, busy=busy, working={}, horizon=T0 + 48 * H)
    # the 1 h gaps before and between are too short: it starts at 6 h
    assert p.slots[0].start == T0 + 6 * H
    assert p.completion == T0 + 7.5 * H


def test_planned_operations_are_never_overlapped() -> None:
    busy = {"m1": [(T0, T0 + 5 * H)], "m2": [(T0 + H, T0 + 3 * H)]}
    p = promise(
        [Step("print", ("m1", "m2"), 60, count=3)],
        now=T0,
        busy=busy,
        working={},
        horizon=T0 + 48 * H,
    )
    for slot in p.slots:
        for b_start, b_end in busy[slot.machine]:
            assert slot.end <= b_start or slot.start >= b_end
    # plates: m2 at 0–1 h, then m2 at 3–4 h, then m2 at 4–5 h or m1 at 5–6 h
    assert p.completion == T0 + 5 * H


def test_plates_run_in_parallel_and_finishing_waits_for_all() -> None:
    p = promise(
        [Step("print", ("a", "b"), 120, count=2), Step("finish", ("f",), 30)],
        now=T0,
        busy={},
        working={},
        horizon=T0 + 48 * H,
    )
    prints = [s for s in p.slots if s.step == "print"]
    assert {s.machine for s in prints} == {"a", "b"}
    assert all(s.start == T0 for s in prints)
    assert p.slots[-1].start == T0 + 2 * H
    assert p.completion == T0 + 2.5 * H


def test_job_does_not_span_the_end_of_a_shift() -> None:
    working = {"m1": [(T0, T0 + 8 * H), (T0 + 24 * H, T0 + 32 * H)]}
    busy = {"m1": [(T0, T0 + 7 * H)]}
    p = promise(
        [Step("print", ("m1",), 120)], now=T0, busy=busy, working=working, horizon=T0 + 72 * H
    )
    assert p.slots[0].start == T0 + 24 * H


def test_no_room_before_the_horizon_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match="no free"):
        promise(
            [Step("print", ("m1",), 600)],
            now=T0,
            busy={"m1": [(T0, T0 + 20 * H)]},
            working={},
            horizon=T0 + 24 * H,
        )


def test_faster_machine_takes_less_time_and_wins() -> None:
    step = Step("print", ("slow", "fast"), 100, speed={"fast": 2.0, "slow": 0.9})
    p = promise([step], now=T0, busy={}, working={}, horizon=T0 + 48 * H)
    assert p.slots[0].machine == "fast"
    assert p.slots[0].end - p.slots[0].start == timedelta(minutes=50)
    assert step.length("slow") == timedelta(minutes=112)  # ⌈100 / 0.9⌉ as the planner rounds
