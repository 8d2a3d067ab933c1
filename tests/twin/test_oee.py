"""OEE per ISO 22400-2: the golden example, the time model of one machine by hand, losses,
Pareto, MTBF/MTTR and periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.maintenance.oee import (
    PartCount,
    day_periods,
    downtime_pareto,
    machine_oee,
    oee_figures,
    shift_periods,
    spans_from_states,
)

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_golden_example_of_the_issue() -> None:
    # PBT 480, APT 400, PRI 1, PQ 360, GQ 342 → A 0.8333, E 0.9000, QR 0.9500, OEE 0.7125
    f = oee_figures(pbt=480, apt=400, pri=1, pq=360, gq=342)
    assert f.availability == pytest.approx(0.8333, abs=5e-5)
    assert f.effectiveness == pytest.approx(0.9000, abs=5e-5)
    assert f.quality_ratio == pytest.approx(0.9500, abs=5e-5)
    assert f.oee == pytest.approx(0.7125, abs=5e-5)


@pytest.mark.parametrize(
    ("pbt", "apt", "pri", "pq", "gq"),
    [
        (-1, 400, 1, 360, 342),  # negative planned busy time
        (480, 400, -1, 360, 342),  # negative run time per item
        (480, 400, 1, 300, 342),  # more good parts than parts made
    ],
)
def test_bad_inputs_are_rejected(pbt: float, apt: float, pri: float, pq: float, gq: float) -> None:
    with pytest.raises(ValueError):
        oee_figures(pbt, apt, pri, pq, gq)


def test_nothing_planned_gives_zero_not_a_division_error() -> None:
    assert oee_figures(0, 0, 1, 0, 0).oee == 0.0


# One 8-hour shift written as state changes (minutes from 06:00):
#   0–60 setup, 60–300 processing, 300–320 micro-stop, 320–400 processing,
#   400–460 breakdown, 460–480 idle (no work), then off shift.
SHIFT = [
    (at(0), "Executing", "setup", None),
    (at(60), "Executing", "processing", None),
    (at(300), "NotExecuting", "processing", "micro_stop"),
    (at(320), "Executing", "processing", None),
    (at(400), "OutOfService", "maintenance", "breakdown:nozzle_clog"),
    (at(460), "NotExecuting", "idle", None),
    (at(480), "NotAvailable", "idle", "off_shift"),
]
# 30 parts at 10 minutes planned each; 3 rejected, one of them the first part after setup
COUNTS = [PartCount("m", at(70 + 10 * i), 1, 0, 10.0) for i in range(27)] + [
    PartCount("m", at(65), 0, 1, 10.0, startup=True),
    PartCount("m", at(390), 0, 2, 10.0),
]


def test_time_model_of_one_shift_by_hand() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    r = machine_oee("m", spans, COUNTS, at(0), at(600))
    # POT 480 (off shift excluded); idle 20 is not planned busy time: PBT 460
    assert (r.pot, r.pbt) == (pytest.approx(480), pytest.approx(460))
    # APT: processing 240 + 80, plus the 20-minute minor stop
    assert r.apt == pytest.approx(340)
    assert (r.setup, r.breakdown, r.minor_stops, r.idle) == (60, 60, 20, 20)
    assert (r.pq, r.gq, r.ideal) == (30, 27, pytest.approx(300))
    f = r.figures
    assert f.availability == pytest.approx(340 / 460)
    assert f.effectiveness == pytest.approx(300 / 340)
    assert f.quality_ratio == pytest.approx(27 / 30)
    assert f.oee == pytest.approx(340 / 460 * 300 / 340 * 27 / 30)
    assert r.loading == pytest.approx(460 / 480)


def test_idle_counts_as_loss_on_request() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    r = machine_oee("m", spans, COUNTS, at(0), at(600), idle_is_loss=True)
    assert r.pbt == pytest.approx(480)
    assert r.figures.availability == pytest.approx(340 / 480)


def test_six_big_losses_split_by_hand() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    losses = machine_oee("m", spans, COUNTS, at(0), at(600)).six_big_losses()
    assert losses["breakdowns"] == 60
    assert losses["setup_and_adjustments"] == 60
    assert losses["idling_and_minor_stops"] == 20
    # APT 340 − minor stops 20 − planned run time 300
    assert losses["reduced_speed"] == 20
    assert losses["process_defects"] == 20  # 2 rejects x 10 min
    assert losses["reduced_yield"] == 10  # the start-up reject
    assert losses["valuable_operating_time"] == 270


def test_mtbf_is_busy_time_per_failure_and_mttr_the_mean_repair() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    r = machine_oee("m", spans, COUNTS, at(0), at(600))
    assert r.failures == 1
    assert r.mtbf_hours == pytest.approx((340 + 60) / 60)
    assert r.mttr_hours == pytest.approx(1.0)


def test_no_failure_gives_no_mtbf() -> None:
    spans = spans_from_states("m", SHIFT[:2], at(100))
    r = machine_oee("m", spans, [], at(0), at(100))
    assert r.mtbf_hours is None and r.mttr_hours is None


def test_planned_maintenance_is_planned_downtime() -> None:
    changes = [
        (at(0), "Executing", "processing", None),
        (at(100), "OutOfService", "maintenance", "pm:PM-00001"),
        (at(160), "Executing", "processing", None),
    ]
    r = machine_oee("m", spans_from_states("m", changes, at(200)), [], at(0), at(200))
    assert (r.pbt, r.planned_maintenance, r.failures) == (pytest.approx(140), 60, 0)


def test_period_boundaries_clip_spans() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    first = machine_oee("m", spans, COUNTS, at(0), at(200))
    second = machine_oee("m", spans, COUNTS, at(200), at(600))
    assert first.apt + second.apt == pytest.approx(340)
    assert first.pq + second.pq == 30


def test_pareto_is_sorted_and_cumulative() -> None:
    spans = spans_from_states("m", SHIFT, at(600))
    pareto = downtime_pareto([machine_oee("m", spans, COUNTS, at(0), at(600))])
    minutes = [row["minutes"] for row in pareto]
    assert minutes == sorted(minutes, reverse=True)
    assert pareto[-1]["cumulative"] == pytest.approx(1.0)
    assert "idle_no_work" not in {row["reason"] for row in pareto}


def test_shifts_and_days_cover_the_range() -> None:
    start, end = at(0), at(0) + timedelta(days=2)
    assert len(day_periods(start, end)) == 3  # the 6:00 start cuts the first and last day
    shifts = shift_periods(start, end)
    assert len(shifts) == 6
    assert sum((e - s).total_seconds() for _, s, e in shifts) == 2 * 86400


def test_prorated_run_time_follows_when_the_part_was_made() -> None:
    # one 10-minute-planned part made over 0–120, counted at 120: 3/4 in the first period
    changes = [(at(0), "Executing", "processing", None)]
    spans = spans_from_states("m", changes, at(160))
    part = [PartCount("m", at(120), 1, 0, 10.0, since=at(0))]
    first = machine_oee("m", spans, part, at(0), at(90), prorate=True)
    second = machine_oee("m", spans, part, at(90), at(160), prorate=True)
    assert (first.ideal, second.ideal) == (pytest.approx(7.5), pytest.approx(2.5))
    assert (first.pq, second.pq) == (0, 1)  # the part counts where it is finished
    unprorated = machine_oee("m", spans, part, at(0), at(90))
    assert unprorated.ideal == 0.0
