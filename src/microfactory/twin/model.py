"""The SimPy micro-factory. Each machine is a process that works its shift calendar, asks a
dispatcher for jobs, sets up, processes part by part with stochastic times and micro-stops,
wears (hidden health), breaks down and is repaired, and takes maintenance windows. A sensor
process per machine reports 1-minute samples in batches. Everything a machine does leaves
as a shop-floor event (`microfactory.shopfloor.events`) through the sink, exactly what a
machine adapter would publish. Time inside is float minutes from `config.start`; the run is
reproducible from `config.seed`."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import simpy

from microfactory.orders.factory import Factory
from microfactory.shopfloor.events import (
    JobEvent,
    Measurement,
    PartCounter,
    StateChanged,
)
from microfactory.shopfloor.machines import Machine, MachineMode, MachineState
from microfactory.twin.degradation import (
    HealthProcess,
    failure_modes_for,
    signal_values,
    signals_for,
)
from microfactory.twin.jobs import Dispatcher, EventSink, TwinConfig, TwinJob
from microfactory.twin.sensors import Trace, WireSampleBatch, minute_stamps

Proc = Generator[simpy.Event, Any, None]
FOREVER = 10.0**9


@dataclass
class MaintenanceWindow:
    start: float
    minutes: float
    ref: str
    done: bool = False


@dataclass
class Outage:
    """A breakdown imposed from outside (a what-if scenario)."""

    start: float
    minutes: float
    reason: str
    done: bool = False


@dataclass(frozen=True)
class FailureRecord:
    """Hidden truth: when a machine broke down and why (for scoring predictions)."""

    machine: str
    at: datetime
    mode: str
    repair_minutes: float


class TwinMachine:
    def __init__(self, twin: Twin, machine: Machine, index: int) -> None:
        self.twin = twin
        self.m = machine
        self.id = machine.id
        seed = (twin.config.seed * 1_000_003 + index * 7919) & 0xFFFFFFFF
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.health = HealthProcess(machine.mtbf_hours, np.random.default_rng(seed + 1))
        self.signals = signals_for(machine.type)
        self.seq = 0
        self.state: tuple[MachineState, MachineMode, str | None] | None = None
        self.family: str | None = None
        self.windows = twin.windows_for(machine)
        self.wake_event = twin.env.event()
        self.maintenance: list[MaintenanceWindow] = []
        self.outages: list[Outage] = []
        self.trace = Trace()
        self.busy = False
        self.until_micro_stop = self._draw_micro_stop_gap()
        self.run_minutes_total = 0.0
        self.cycles_total = 0
        self.in_maintenance = False

    # -- helpers ---------------------------------------------------------------------------

    def _draw_micro_stop_gap(self) -> float:
        rate = self.twin.config.micro_stops_per_hour / 60.0
        return self.rng.expovariate(rate) if rate > 0 else FOREVER

    def next_seq(self) -> int:
        """Per-machine event numbers 0, 1, 2, ... (the ingester detects gaps on them)."""
        seq = self.seq
        self.seq += 1
        return seq

    def event_id(self, seq: int) -> str:
        return f"{self.twin.config.tag}-{self.id}-{seq}"

    def in_shift(self, t: float) -> bool:
        starts, ends = self.windows
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < ends[i]

    def powered(self, t0: float, n: int) -> np.ndarray:
        """Per minute from `t0`: in a working window, or out of service (maintenance and
        repairs happen with the power on)."""
        starts, ends = self.windows
        minutes = t0 + np.arange(n, dtype=float)
        i = np.searchsorted(np.asarray(starts), minutes, side="right") - 1
        inside = (i >= 0) & (minutes < np.asarray(ends)[np.maximum(i, 0)])
        if self.state is not None and self.state[0] == MachineState.OUT_OF_SERVICE:
            inside[:] = True
        return inside

    def shift_end(self, t: float) -> float:
        starts, ends = self.windows
        i = bisect.bisect_right(starts, t) - 1
        return ends[i] if i >= 0 and t < ends[i] else t

    def next_shift_start(self, t: float) -> float:
        starts, _ = self.windows
        i = bisect.bisect_right(starts, t)
        return starts[i] if i < len(starts) else FOREVER

    def set_state(self, state: MachineState, mode: MachineMode, reason: str | None = None) -> None:
        key = (state, mode, reason)
        if key == self.state:
            return
        self.state = key
        busy = state == MachineState.EXECUTING and mode == MachineMode.PROCESSING
        self.busy = busy
        self.trace.record(self.twin.env.now, busy, self.health.wear)
        seq = self.next_seq()
        self.twin.emit(
            StateChanged(
                event_id=self.event_id(seq),
                machine=self.id,
                seq=seq,
                ts=self.twin.at(self.twin.env.now),
                state=state,
                mode=mode,
                reason=reason,
            )
        )

    def due_maintenance(self, t: float) -> MaintenanceWindow | None:
        for w in self.maintenance:
            if not w.done and w.start <= t:
                return w
        return None

    def next_maintenance_start(self) -> float:
        return min((w.start for w in self.maintenance if not w.done), default=FOREVER)

    def wake(self) -> None:
        if not self.wake_event.triggered:
            self.wake_event.succeed()

    # -- processes -------------------------------------------------------------------------

    def run(self) -> Proc:
        env = self.twin.env
        while True:
            outage = self.due_outage(env.now)
            if outage is not None:
                yield from self.breakdown(None, outage)
                continue
            window = self.due_maintenance(env.now)
            if window is not None:
                yield from self.maintain(window)
                continue
            if not self.in_shift(env.now):
                self.set_state(MachineState.NOT_AVAILABLE, MachineMode.IDLE, "off_shift")
                until = min(
                    self.next_shift_start(env.now),
                    self.next_maintenance_start(),
                    self.next_outage_start(),
                )
                yield env.timeout(max(0.0, until - env.now))
                continue
            job = self.twin.dispatcher.next_job(self.id, self.twin.at(env.now))
            if job is None:
                self.set_state(MachineState.NOT_EXECUTING, MachineMode.IDLE, None)
                if self.wake_event.triggered:
                    self.wake_event = env.event()
                until = min(
                    self.shift_end(env.now),
                    self.next_maintenance_start(),
                    self.next_outage_start(),
                )
                yield env.any_of([self.wake_event, env.timeout(max(0.0, until - env.now))])
                continue
            yield from self.process_job(job)

    def process_job(self, job: TwinJob) -> Proc:
        cfg = self.twin.config
        started = self.twin.env.now
        self.emit_job("started", job, 0, 0)
        setup = self.m.setup_time_minutes(self.family, job.setup_family)
        if setup > 0:
            self.set_state(MachineState.EXECUTING, MachineMode.SETUP, None)
            yield from self.work(setup * self.rng.uniform(0.9, 1.3), MachineMode.SETUP)
        if job.setup_family is not None:
            self.family = job.setup_family
        good = reject = 0
        wear_sum = 0.0
        self.set_state(MachineState.EXECUTING, MachineMode.PROCESSING, None)
        if job.fixed_minutes > 0:
            yield from self.work(self.actual(job.fixed_minutes), MachineMode.PROCESSING)
        made = 0
        limit = 2 * job.quantity + 2
        while good < job.quantity and made < limit:
            if job.per_unit_minutes > 0:
                yield from self.work(self.actual(job.per_unit_minutes), MachineMode.PROCESSING)
            made += 1
            self.cycles_total += 1
            wear = self.health.wear
            ok = True
            if job.produces:
                wear_sum += wear
                ok = self.rng.random() >= cfg.scrap_base + cfg.scrap_wear * wear * wear
            if ok and job.characteristics:
                ok = self.measure(job, made)
            if ok:
                good += 1
            else:
                reject += 1
            self.emit_counter(job, 1 if ok else 0, 0 if ok else 1)
            if not job.produces and good + reject >= job.quantity:
                break  # a part rejected at inspection is lost, not remade here
        if job.produces and made:
            self.twin.produced_wear[job.work_order] = wear_sum / made
        self.emit_job("finished", job, good, reject)
        self.twin.job_log.append((started, self.twin.env.now, self.id, job.operation))
        self.set_state(MachineState.NOT_EXECUTING, MachineMode.IDLE, None)

    def actual(self, nominal: float) -> float:
        cfg = self.twin.config
        sigma = cfg.performance_sd
        mu = math.log(cfg.performance_mean) - sigma * sigma / 2.0
        factor = self.rng.lognormvariate(mu, sigma) * (1.0 + cfg.wear_slowdown * self.health.wear)
        return nominal / self.m.speed_factor * factor

    def measure(self, job: TwinJob, unit: int) -> bool:
        """Measure the part's characteristics; False when one is out of tolerance."""
        wear = self.twin.produced_wear.get(job.work_order, 0.0)
        ok = True
        for c in job.characteristics:
            lo = c.lsl if c.lsl is not None else c.nominal - 1.0
            hi = c.usl if c.usl is not None else c.nominal + 1.0
            sigma = (hi - lo) / 9.0
            bias = 0.8 * (hi - c.nominal) * wear * wear
            value = round(c.nominal + bias + self.rng.gauss(0.0, sigma), 4)
            inside = (c.lsl is None or value >= c.lsl) and (c.usl is None or value <= c.usl)
            ok = ok and inside
            if unit % c.sample_every == 0 or not inside:
                seq = self.next_seq()
                self.twin.emit(
                    Measurement(
                        event_id=self.event_id(seq),
                        machine=self.id,
                        seq=seq,
                        ts=self.twin.at(self.twin.env.now),
                        characteristic=c.name,
                        value=value,
                        unit=c.unit,
                        part_id=f"{job.work_order}-{unit:03d}",
                        lot_id=job.lot,
                    )
                )
        return ok

    def work(self, minutes: float, mode: MachineMode) -> Proc:
        """Spend `minutes` of machine time: pauses off shift, micro-stops and breakdowns
        while processing; health falls only while processing."""
        env = self.twin.env
        cfg = self.twin.config
        remaining = minutes
        processing = mode == MachineMode.PROCESSING
        while remaining > 1e-9:
            outage = self.due_outage(env.now)
            if outage is not None:
                yield from self.breakdown(mode, outage)
                continue
            if not self.in_shift(env.now):
                self.set_state(MachineState.NOT_AVAILABLE, MachineMode.IDLE, "off_shift")
                until = min(self.next_shift_start(env.now), self.next_outage_start())
                yield env.timeout(max(0.0, until - env.now))
                if self.in_shift(env.now):
                    self.set_state(MachineState.EXECUTING, mode, None)
                continue
            piece = min(
                remaining,
                cfg.step_minutes,
                self.shift_end(env.now) - env.now,
                max(1e-6, self.next_outage_start() - env.now),
            )
            if processing:
                piece = min(piece, self.until_micro_stop)
                failed_after = self.health.advance(piece)
                if failed_after is not None:
                    yield env.timeout(failed_after)
                    remaining -= failed_after
                    self.run_minutes_total += failed_after
                    yield from self.breakdown(mode)
                    continue
                self.run_minutes_total += piece
            yield env.timeout(piece)
            remaining -= piece
            if processing:
                self.trace.record(env.now, True, self.health.wear)
                self.until_micro_stop -= piece
                if self.until_micro_stop <= 1e-9 and remaining > 1e-9:
                    self.set_state(MachineState.NOT_EXECUTING, MachineMode.PROCESSING, "micro_stop")
                    yield env.timeout(self.rng.uniform(1.0, cfg.micro_stop_max))
                    self.until_micro_stop = self._draw_micro_stop_gap()
                    self.set_state(MachineState.EXECUTING, mode, None)
                elif self.until_micro_stop <= 1e-9:
                    self.until_micro_stop = self._draw_micro_stop_gap()

    def due_outage(self, t: float) -> Outage | None:
        for o in self.outages:
            if not o.done and o.start <= t:
                return o
        return None

    def next_outage_start(self) -> float:
        return min((o.start for o in self.outages if not o.done), default=FOREVER)

    def breakdown(self, resume_mode: MachineMode | None, forced: Outage | None = None) -> Proc:
        env = self.twin.env
        cfg = self.twin.config
        if forced is not None:
            forced.done = True
            mode_name, repair = forced.reason, forced.minutes
        else:
            mode_name = self.rng.choice(failure_modes_for(self.m.type))
            mean = self.m.mttr_hours * 60.0
            sigma = cfg.repair_sd
            repair = self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2.0, sigma)
        self.twin.failures.append(
            FailureRecord(self.id, self.twin.at(env.now), mode_name, round(repair, 2))
        )
        self.set_state(
            MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, f"breakdown:{mode_name}"
        )
        yield env.timeout(repair)
        self.health.renew()
        self.trace.record(env.now, False, 0.0)
        if resume_mode is None:
            self.set_state(MachineState.NOT_EXECUTING, MachineMode.IDLE, "repaired")
        else:
            self.set_state(MachineState.EXECUTING, resume_mode, "repaired")

    def maintain(self, window: MaintenanceWindow) -> Proc:
        env = self.twin.env
        self.in_maintenance = True
        self.set_state(MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, f"pm:{window.ref}")
        yield env.timeout(window.minutes * self.rng.uniform(0.9, 1.2))
        window.done = True
        self.health.renew()
        self.trace.record(env.now, False, 0.0)
        self.in_maintenance = False
        self.set_state(MachineState.NOT_EXECUTING, MachineMode.IDLE, f"pm_done:{window.ref}")

    def sample(self) -> Proc:
        env = self.twin.env
        n = self.twin.config.batch_minutes
        while True:
            yield env.timeout(n)
            t0 = env.now - n
            busy, wear = self.trace.window(t0, n)
            self.trace.record(env.now, self.busy, self.health.wear)
            batch = self.batch(t0, busy, wear)
            if batch is not None:
                self.twin.emit(batch)

    def batch(self, t0: float, busy: np.ndarray, wear: np.ndarray) -> WireSampleBatch | None:
        """The batch of 1-minute samples from `t0`; a machine that is off shift (switched
        off) sends nothing for those minutes."""
        start = self.twin.at(t0)
        stamps = minute_stamps(start, len(busy))
        powered = self.powered(t0, len(busy))
        if not powered.any():
            return None
        parts: list[str] = []
        for profile in self.signals:
            values = signal_values(profile, busy, wear, self.np_rng).round(4).tolist()
            head = f'{{"signal":"{profile.name}","value":'
            tail = f',"unit":"{profile.unit}","ts":"'
            parts.extend(
                f'{head}{v!r}{tail}{ts}"}}'
                for v, ts, on in zip(values, stamps, powered.tolist(), strict=True)
                if on
            )
        seq = self.next_seq()
        return WireSampleBatch(
            event_id=self.event_id(seq),
            machine=self.id,
            seq=seq,
            ts=self.twin.at(self.twin.env.now),
            samples_json="[" + ",".join(parts) + "]",
            count=len(parts),
        )

    # -- event helpers ---------------------------------------------------------------------

    def emit_job(
        self,
        action: Literal["started", "finished", "aborted"],
        job: TwinJob,
        good: int,
        reject: int,
    ) -> None:
        seq = self.next_seq()
        self.twin.emit(
            JobEvent(
                event_id=self.event_id(seq),
                machine=self.id,
                seq=seq,
                ts=self.twin.at(self.twin.env.now),
                action=action,
                work_order=job.work_order,
                operation=job.operation,
                good=good,
                reject=reject,
            )
        )

    def emit_counter(self, job: TwinJob, good: int, reject: int) -> None:
        seq = self.next_seq()
        self.twin.emit(
            PartCounter(
                event_id=self.event_id(seq),
                machine=self.id,
                seq=seq,
                ts=self.twin.at(self.twin.env.now),
                good=good,
                reject=reject,
                work_order=job.work_order,
            )
        )


class Twin:
    """The simulated factory. `dispatcher` chooses jobs; `sink` receives every event in
    simulation order. Call `run_until(minutes)` (repeatedly, e.g. one simulated day at a
    time) to advance."""

    def __init__(
        self,
        factory: Factory,
        config: TwinConfig,
        dispatcher: Dispatcher,
        sink: EventSink,
        *,
        horizon_days: float = 400.0,
    ) -> None:
        self.factory = factory
        self.config = config
        self.dispatcher = dispatcher
        self.sink = sink
        self.env = simpy.Environment()
        self.horizon_days = horizon_days
        self.failures: list[FailureRecord] = []
        self.produced_wear: dict[str, float] = {}
        self.job_log: list[tuple[float, float, str, str]] = []
        self.events_emitted = 0
        self.machines: dict[str, TwinMachine] = {}
        for i, machine in enumerate(factory.machines):
            tm = TwinMachine(self, machine, i)
            self.machines[machine.id] = tm
        for tm in self.machines.values():
            self.env.process(tm.run())
            self.env.process(tm.sample())

    # -- time ------------------------------------------------------------------------------

    def at(self, minutes: float) -> datetime:
        """Simulation minutes to an aware datetime (millisecond resolution)."""
        return self.config.start + timedelta(milliseconds=round(minutes * 60_000.0))

    def minutes(self, when: datetime) -> float:
        return (when - self.config.start).total_seconds() / 60.0

    @property
    def now(self) -> datetime:
        return self.at(self.env.now)

    def windows_for(self, machine: Machine) -> tuple[list[float], list[float]]:
        end = self.config.start + timedelta(days=self.horizon_days)
        windows = machine.calendar.working_windows(self.config.start, end)
        return [self.minutes(w.start) for w in windows], [self.minutes(w.end) for w in windows]

    # -- control ---------------------------------------------------------------------------

    def emit(self, event: Any) -> None:
        self.events_emitted += 1
        self.sink(event)

    def wake(self, machine: str | None = None) -> None:
        """Tell idle machines (one, or all) that new work may be there for them."""
        targets = [self.machines[machine]] if machine else list(self.machines.values())
        for tm in targets:
            tm.wake()

    def schedule_maintenance(self, machine: str, start: datetime, minutes: float, ref: str) -> None:
        """A maintenance window: the machine stops for it as soon as it is free after `start`
        (an operation in progress is finished first), and its health is renewed."""
        if minutes <= 0:
            raise ValueError("maintenance minutes must be positive")
        tm = self.machines[machine]
        tm.maintenance.append(
            MaintenanceWindow(max(self.env.now, self.minutes(start)), minutes, ref)
        )
        tm.maintenance.sort(key=lambda w: w.start)
        tm.wake()

    def disrupt(self, machine: str, at: datetime, hours: float, reason: str = "whatif") -> None:
        """Make `machine` break down at `at` for `hours` (a what-if disruption); a job in
        progress pauses and resumes after the repair."""
        if hours <= 0:
            raise ValueError("a disruption needs a positive duration")
        if machine not in self.machines:
            raise ValueError(f"unknown machine {machine!r}")
        tm = self.machines[machine]
        tm.outages.append(Outage(max(self.env.now, self.minutes(at)), hours * 60.0, reason))
        tm.outages.sort(key=lambda o: o.start)
        tm.wake()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> None:
        """Run `callback` at simulated time `when` (orders arriving, periodic planning)."""
        delay = max(0.0, self.minutes(when) - self.env.now)

        def proc() -> Proc:
            yield self.env.timeout(delay)
            callback()

        self.env.process(proc())

    def run_until(self, minutes: float) -> None:
        if minutes > self.env.now:
            self.env.run(until=minutes)

    # -- hidden truth ----------------------------------------------------------------------

    def health(self, machine: str) -> float:
        return self.machines[machine].health.health

    def expected_run_minutes_to_failure(self, machine: str) -> float:
        return self.machines[machine].health.minutes_to_failure_expected()

    def usage(self, machine: str) -> tuple[float, int]:
        """Run hours and cycles since the twin started (machine counters)."""
        tm = self.machines[machine]
        return tm.run_minutes_total / 60.0, tm.cycles_total
