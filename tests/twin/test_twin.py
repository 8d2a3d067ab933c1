"""The SimPy twin, asserted on (event, time) logs: processing, shifts, breakdowns and
repairs, maintenance windows, quality drift, sensor batches, reproducibility."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest

from microfactory.orders import Factory
from microfactory.orders.products import Characteristic
from microfactory.shopfloor import Area, Machine, Shift, ShiftCalendar, Site
from microfactory.shopfloor.events import SampleBatch, parse_event
from microfactory.twin import HealthProcess, Twin, TwinConfig, TwinJob

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday
# deterministic timing: no spread, no wear slowdown, no micro-stops, no scrap
EXACT = {
    "performance_mean": 1.0,
    "performance_sd": 0.0,
    "wear_slowdown": 0.0,
    "micro_stops_per_hour": 0.0,
    "scrap_base": 0.0,
    "scrap_wear": 0.0,
}


def factory(calendar: ShiftCalendar | None = None, mtbf: float = 10_000.0) -> Factory:
    machine = Machine(
        id="m1",
        name="printer",
        type="fdm_printer",
        area="a",
        capabilities=frozenset({"print"}),
        cost_per_hour=1.0,
        calendar=calendar or ShiftCalendar(),
        setup_minutes=15.0,
        mtbf_hours=mtbf,
        mttr_hours=1.0,
    )
    return Factory(Site("s", "Site"), (Area("a", "Area"),), (machine,), (), ())


class Script:
    """A dispatcher that hands out a fixed list of jobs, one per request."""

    def __init__(self, jobs: list[TwinJob]) -> None:
        self.jobs = list(jobs)

    def next_job(self, machine: str, now: datetime) -> TwinJob | None:
        return self.jobs.pop(0) if self.jobs else None


def job(op: str = "op1", quantity: int = 2, family: str | None = None, **kw: Any) -> TwinJob:
    return TwinJob(op, "WO-1", "LOT-1", quantity, 10.0, 20.0, setup_family=family, **kw)


def run(
    fac: Factory, jobs: list[TwinJob], minutes: float, seed: int = 1, **cfg: Any
) -> tuple[Twin, list[Any]]:
    log: list[Any] = []
    settings = {**EXACT, **cfg}
    twin = Twin(fac, TwinConfig(start=START, seed=seed, **settings), Script(jobs), log.append)
    twin.run_until(minutes)
    return twin, log


def timeline(log: list[Any], twin: Twin) -> list[tuple[str, float]]:
    """(what, minute) for every non-sample event."""
    out: list[tuple[str, float]] = []
    for e in log:
        minute = round(twin.minutes(e.ts), 3)
        if e.kind == "state":
            out.append((f"{e.state.value}/{e.mode.value}/{e.reason or ''}", minute))
        elif e.kind == "job":
            out.append((f"job {e.action} good={e.good}", minute))
        elif e.kind == "counter":
            out.append((f"count good={e.good} reject={e.reject}", minute))
    return out


def test_a_job_runs_fixed_time_then_each_part() -> None:
    twin, log = run(factory(), [job()], 100)
    assert timeline(log, twin) == [
        ("job started good=0", 0.0),
        ("Executing/processing/", 0.0),
        ("count good=1 reject=0", 30.0),
        ("count good=1 reject=0", 50.0),
        ("job finished good=2", 50.0),
        ("NotExecuting/idle/", 50.0),
    ]


def test_a_new_setup_family_costs_the_changeover_time() -> None:
    twin, log = run(factory(), [job("a", 1, "red"), job("b", 1, "blue")], 200, seed=3)
    events = timeline(log, twin)
    setups = [t for what, t in events if what == "Executing/setup/"]
    assert setups == [30.0]  # the first job finds the machine without a family: no setup
    # the changeover takes 15 minutes x uniform(0.9, 1.3)
    second = events.index(("Executing/setup/", 30.0))
    processing_after = events[second + 1][1]
    assert 13.5 - 1e-6 <= processing_after - 30.0 <= 19.5 + 1e-6


def test_work_pauses_off_shift_and_resumes_next_shift() -> None:
    calendar = ShiftCalendar((Shift(("mon", "tue"), time(6), time(7)),))
    long_job = TwinJob("op", "WO-1", "LOT-1", 1, 50.0, 40.0)  # 90 minutes of work
    twin, log = run(factory(calendar), [long_job], 2 * 1440)
    events = timeline(log, twin)
    assert ("NotAvailable/idle/off_shift", 60.0) in events
    assert ("Executing/processing/", 1440.0) in events
    assert ("job finished good=1", 1440.0 + 30.0) in events


def test_a_worn_machine_breaks_down_and_is_repaired() -> None:
    twin, log = run(factory(mtbf=2.0), [job(quantity=40)], 3000, seed=5)
    events = timeline(log, twin)
    down = [t for what, t in events if what.startswith("OutOfService/maintenance/breakdown")]
    back = [t for what, t in events if what.endswith("/repaired")]
    assert down and len(back) >= len(down) - 1
    assert all(b > d for d, b in zip(down, back, strict=False))
    assert len(twin.failures) == len(down)
    # the job finishes after the repairs: all 40 parts counted
    assert sum(e.good for e in log if e.kind == "counter") == 40


def test_a_maintenance_window_stops_the_machine_and_renews_it() -> None:
    fac = factory()
    log: list[Any] = []
    twin = Twin(fac, TwinConfig(start=START, seed=1, **EXACT), Script([job()]), log.append)
    twin.machines["m1"].health.health = 0.5
    twin.schedule_maintenance("m1", START + timedelta(minutes=20), 60.0, "PM-1")
    twin.run_until(300)
    events = timeline(log, twin)
    start = next(t for what, t in events if what.endswith("pm:PM-1"))
    done = next(t for what, t in events if what.endswith("pm_done:PM-1"))
    assert start == 50.0  # the running job is finished first
    assert 54.0 <= done - start <= 72.0  # 60 minutes x uniform(0.9, 1.2)
    assert twin.health("m1") == 1.0


def test_dimensions_drift_out_of_tolerance_with_wear() -> None:
    char = Characteristic("d", 1, nominal=10.0, lsl=9.9, usl=10.1)
    inspect = TwinJob("op", "WO-1", "LOT-1", 200, 1.0, 1.0, characteristics=(char,))
    _, fresh = run(factory(), [inspect], 1000)
    worn_log: list[Any] = []
    worn = Twin(
        factory(), TwinConfig(start=START, seed=1, **EXACT), Script([inspect]), worn_log.append
    )
    worn.produced_wear["WO-1"] = 1.0
    worn.run_until(1000)
    fresh_values = [e.value for e in fresh if e.kind == "measurement"]
    worn_values = [e.value for e in worn_log if e.kind == "measurement"]
    assert np.mean(worn_values) > np.mean(fresh_values) + 0.05
    rejects = [sum(e.reject for e in log if e.kind == "counter") for log in (fresh, worn_log)]
    assert rejects[1] > rejects[0]


def test_sensor_batches_are_valid_wire_events_with_one_sample_a_minute() -> None:
    _, log = run(factory(), [], 121)
    batches = [e for e in log if e.kind == "sample"]
    assert len(batches) == 2
    parsed = parse_event(batches[0].to_json())
    assert isinstance(parsed, SampleBatch)
    signals = {s.signal for s in parsed.samples}
    assert signals == {"temperature", "vibration_rms", "nozzle_pressure"}
    stamps = sorted({s.ts for s in parsed.samples if s.ts is not None})
    assert len(stamps) == 60 and stamps[1] - stamps[0] == timedelta(minutes=1)


def test_sequence_numbers_are_consecutive_per_machine() -> None:
    _, log = run(factory(), [job(), job("op2")], 600)
    assert [e.seq for e in log] == list(range(len(log)))


def test_same_seed_same_history_and_another_seed_another() -> None:
    def history(seed: int) -> list[tuple[str, datetime, bytes]]:
        jobs = [job(f"op{i}", quantity=5, family=("a" if i % 2 else "b")) for i in range(30)]
        _, log = run(
            factory(mtbf=20.0),
            jobs,
            3000,
            seed=seed,
            **{
                "performance_sd": 0.1,
                "micro_stops_per_hour": 1.0,
                "scrap_base": 0.05,
            },
        )
        return [(e.kind, e.ts, e.to_json()) for e in log]

    assert history(11) == history(11)
    assert history(11) != history(12)


def test_health_falls_only_with_use_and_fails_at_the_threshold() -> None:
    health = HealthProcess(1.0, np.random.default_rng(0))
    assert health.advance(0) is None and health.health == 1.0
    failed_after = None
    minutes = 0.0
    while failed_after is None:
        failed_after = health.advance(10.0)
        minutes += 10.0
    assert health.failed and health.health == pytest.approx(health.threshold)
    assert 0 <= failed_after <= 10.0
    with pytest.raises(ValueError):
        HealthProcess(0.0, np.random.default_rng(0))


def test_bad_jobs_are_rejected() -> None:
    with pytest.raises(ValueError):
        TwinJob("op", "WO", "LOT", -1, 1.0, 1.0)  # negative quantity
    with pytest.raises(ValueError):
        TwinJob("op", "WO", "LOT", 1, 0.0, 0.0)  # no time at all
