"""The print farm: printers driven by the plan.

Each printer (a machine with a `host:` in the factory file) gets the next operation the current
plan assigns to it, and only when the printer is idle and operational, its plate is confirmed
clear, its nozzle, build volume and loaded material match the job and its spool holds enough
filament. When they do not, the job is not started there: the operation is kept off that
printer (a plan exclusion), a replan is requested, and the reason is shown on the printer.

The print farm never changes an operation itself. What it learns from the printer's host comes
back as shop-floor events through the one event path (outbox → bus → ingester → reactor):
`job` started / finished / aborted, `counter` (the parts made), `state` (OPC 40001) and
`sample` (temperatures). Only the host's confirmation produces them: a job is `started` when the
host prints its file (or shows it finished), `finished` when the host shows it at 100 %.

A failed or cancelled print is tried again on the same printer up to its `retry_limit` (once
the plate is cleared again); after that the operation is kept off the printer and re-planned.
A restarted runtime adopts what it finds: the job records say which file belongs to which
operation, so a print that is running is watched, never started twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, ConnectorError, NotFound
from microfactory.core.ids import new_id
from microfactory.orders import Factory
from microfactory.services.materials import record_slicer_estimate
from microfactory.services.ports import PrinterHost, PrintFarmStore, PrintFarmTx, UnitOfWorkFactory
from microfactory.services.printfarm_desk import OPEN, PrinterDesk, record_of
from microfactory.services.printfarm_jobs import Item, fail, opc_state, settle, state_item
from microfactory.services.printfarm_match import (
    filament_short,
    operation_not_ready,
    printer_mismatch,
)
from microfactory.services.printfarm_slicing import JobSpec, JobSpecs, SlicingService
from microfactory.shopfloor.events import (
    Event,
    Sample,
    SampleBatch,
    new_event_id,
)
from microfactory.shopfloor.machines import Machine
from microfactory.shopfloor.printers import (
    HostState,
    JobState,
    PrinterRecord,
    PrinterStatus,
    PrintJob,
    SliceRecord,
)

log = logging.getLogger(__name__)
PLATE_WAIT = "waiting for the plate to be cleared"


class PlanView(Protocol):
    """What the print farm needs of the plan store (SqlPlanStore, MemoryPlanStore)."""

    def current_version(self) -> int | None: ...

    def current_plan(self) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...

    def add_exclusion(self, operation: str, machine: str, reason: str, at: datetime) -> bool: ...

    def clear_exclusions(
        self, *, machine: str | None = None, operation: str | None = None
    ) -> int: ...

    def exclusions(self) -> dict[str, dict[str, str]]: ...


@dataclass(frozen=True)
class PrintFarmSettings:
    start_grace_s: float = 20.0
    """How long a started job may take to show on the host before the start counts as lost."""
    status_every_s: float = 5.0
    """Store the host's progress at least this often while it changes."""
    sample_every_s: float = 30.0
    """Publish temperatures this often per printer."""
    backoff_s: float = 10.0
    """Wait after a failed upload or start before trying that printer again (doubling)."""
    backoff_max_s: float = 120.0
    filament_margin: float = 1.05
    """A job is started only on a spool holding this much more than the slicer's grams."""
    lookahead: int = 2
    """Operations per printer sliced ahead of the plan."""
    confirm_s: float = 3.0
    """A job's file idle below 100 % counts as stopped when the host still shows it so after
    this long (a print that just ended may show its last progress for a moment)."""


@dataclass
class Observation:
    """What one look at a printer changed: whether it may take a job now, and the file of a
    job that ended (to tidy up on the host)."""

    can_dispatch: bool = False
    ended_file: str | None = None
    events: int = 0


@dataclass
class Counters:
    dispatched: int = 0
    started: int = 0
    finished: int = 0
    aborted: int = 0
    failed_starts: int = 0
    rerouted: int = 0
    published: int = 0
    replans_requested: int = 0
    tidy_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class PrintFarm:
    """One shop's print farm. Per printer, `observe` and `dispatch` are called from one
    thread (the runtime runs a worker per printer); the rest is thread-safe."""

    uow: UnitOfWorkFactory
    store: PrintFarmStore
    plans: PlanView
    specs: JobSpecs
    slicing: SlicingService
    clock: Clock
    settings: PrintFarmSettings = field(default_factory=PrintFarmSettings)
    seq_start: Callable[[str], int] = lambda machine: 0
    machines: dict[str, Machine] = field(default_factory=dict)
    factory: Factory | None = None
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._replans: list[str] = []
        self._wanted: dict[tuple[str, str], JobSpec] = {}
        self._plan_cache: tuple[int | None, dict[str, list[str]]] = (None, {})
        self._backoff: dict[str, tuple[datetime, float]] = {}
        self._last_sample: dict[str, datetime] = {}
        self._desk: PrinterDesk | None = None
        self._suspect: dict[str, datetime] = {}

    # -- printers --------------------------------------------------------------------------

    @property
    def desk(self) -> PrinterDesk:
        """The operator's actions and the status report (after `sync`)."""
        if self._desk is None:
            raise RuntimeError("PrintFarm.sync(factory) must run first")
        return self._desk

    def sync(self, factory: Factory) -> list[str]:
        """Take the printers with a host from the factory; create their records (plate not
        yet confirmed clear, no spool) and keep their build volume and nozzle current."""
        self.factory = factory
        self.machines = {m.id: m for m in factory.machines if m.host is not None}
        self._desk = PrinterDesk(self.store, self.plans, self.clock, factory, self.machines)
        with self.store.transaction() as tx:
            for machine in self.machines.values():
                record = tx.printer(machine.id)
                nozzle = self._profile_nozzle(machine)
                if record is None:
                    record = PrinterRecord(
                        machine=machine.id,
                        nozzle_mm=nozzle,
                        build_volume_mm=machine.build_volume_mm,
                        message="new printer: load a spool and confirm the plate is clear",
                    )
                    tx.save_printer(record, first_seq=self.seq_start(machine.id))
                elif record.build_volume_mm != machine.build_volume_mm:
                    tx.save_printer(replace(record, build_volume_mm=machine.build_volume_mm))
        return sorted(self.machines)

    def _profile_nozzle(self, machine: Machine) -> float | None:
        if machine.profile is None:
            return None
        raw = self.slicing.profile_settings(machine.profile).get("nozzle_diameter", "")
        try:
            return float(raw.split(",")[0])
        except ValueError:
            return None

    def _machine(self, machine: str) -> Machine:
        if machine not in self.machines:
            known = ", ".join(sorted(self.machines)) or "none"
            raise NotFound(f"{machine} is not a printer with a host (printers: {known})")
        return self.machines[machine]

    # -- replan requests and slicing wishes (consumed by the runtime) -----------------------

    def request_replan(self, reason: str) -> None:
        with self._lock:
            self._replans.append(reason)
            self.counters.replans_requested += 1

    def take_replan(self) -> str | None:
        """The pending replan reasons joined, or None; clears them."""
        with self._lock:
            if not self._replans:
                return None
            reasons, self._replans = self._replans, []
        unique = list(dict.fromkeys(reasons))
        more = f" (+{len(unique) - 3} more)" if len(unique) > 3 else ""
        return "; ".join(unique[:3]) + more

    def has_replan_requests(self) -> bool:
        with self._lock:
            return bool(self._replans)

    def has_wanted_slices(self) -> bool:
        with self._lock:
            return bool(self._wanted)

    def starting(self, machine: str) -> bool:
        """Whether a job was sent to the printer and has not shown on its host yet."""
        with self.store.transaction() as tx:
            return any(
                j.state is not JobState.PRINTING for j in tx.jobs(machine=machine, states=OPEN)
            )

    def take_wanted(self) -> list[tuple[JobSpec, str]]:
        """Slices a printer is waiting for: (spec, profile)."""
        with self._lock:
            wanted, self._wanted = self._wanted, {}
        return [(spec, profile) for (_, profile), spec in wanted.items()]

    def queue(self, machine: str) -> list[str]:
        """Operations the current plan puts on `machine`, in planned order."""
        version = self.plans.current_version()
        with self._lock:
            cached_version, queues = self._plan_cache
        if version != cached_version or version is None:
            plan = self.plans.current_plan()
            queues = {}
            if plan is not None:
                for row in sorted(plan[1], key=lambda r: (r["start"], r["operation"])):
                    queues.setdefault(row["machine"], []).append(row["operation"])
            with self._lock:
                self._plan_cache = (version, queues)
        return list(queues.get(machine, []))

    def slice_ahead(self) -> int:
        """Slice one operation the plan puts next on a printer (waited-for first); return
        how many were sliced (0: nothing to do)."""
        work = self.take_wanted()
        for machine_id, machine in sorted(self.machines.items()):
            if machine.profile is None:
                continue
            for operation in self._unprinted(self.queue(machine_id))[: self.settings.lookahead]:
                spec = self.specs.get(operation)
                if isinstance(spec, JobSpec):
                    work.append((spec, machine.profile))
        for spec, profile in work:
            record, gcode = self.slicing.ready(spec, profile)
            if gcode is not None or self.slicing.settled(record):
                continue
            self.slicing.ensure(spec, profile)
            return 1
        return 0

    def _unprinted(self, operations: Sequence[str]) -> list[str]:
        if not operations:
            return []
        with self.store.transaction() as tx:
            done = {
                j.operation
                for j in tx.jobs(states=(JobState.FINISHED, *OPEN))
                if j.operation in set(operations)
            }
        return [op for op in operations if op not in done]

    # -- events -----------------------------------------------------------------------------

    def _emit(self, tx: PrintFarmTx, machine: str, items: Sequence[Item]) -> list[Event]:
        if not items:
            return []
        first = tx.allocate_seq(machine, len(items))
        events: list[Event] = [
            cls(event_id=new_event_id(), machine=machine, seq=first + i, **kw)
            for i, (cls, kw) in enumerate(items)
        ]
        tx.add_events(events, self.clock.now())
        return events

    def flush(self, publish: Callable[[Sequence[Event]], None]) -> int:
        """Publish what the outbox holds, oldest first, then mark it published. `publish`
        returns once the events are safe (stored by an in-process ingester, or acknowledged
        by the broker). Publishing twice (a crash in between) is harmless: the ingester
        deduplicates on event_id."""
        with self._flush_lock:
            pending = self.store.pending_events()
            if not pending:
                return 0
            publish([event for _, event in pending])
            self.store.mark_published([row_id for row_id, _ in pending], self.clock.now())
            self.counters.published += len(pending)
            return len(pending)

    # -- watching a printer -----------------------------------------------------------------

    def observe(self, machine: str, status: PrinterStatus | None, error: str = "") -> Observation:
        """Take one look at a printer (None: its host did not answer, `error` says why):
        settle its open job, publish state changes and temperatures, store what it shows."""
        now = self.clock.now()
        seen = status or PrinterStatus(HostState.UNREACHABLE, message=error)
        result = Observation()
        # what belongs to other stores is written after the commit
        exclusion: tuple[str, str, str] | None = None
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
            before = record
            items: list[Item] = []
            open_jobs = tx.jobs(machine=machine, states=OPEN)
            for stale in open_jobs[:-1]:  # never more than one; keep the newest
                tx.save_job(
                    replace(stale, state=JobState.FAILED, ended_at=now, reason="superseded")
                )
            job = open_jobs[-1] if open_jobs else None
            if job is not None and self._unconfirmed(job, seen, now):
                job = None  # look again before calling it cancelled
            if job is not None:
                settled = settle(tx, record, job, seen, now, grace_s=self.settings.start_grace_s)
                record, items, exclusion = settled.record, settled.items, settled.exclusion
                result.ended_file = settled.ended_file
                self._count(settled.outcomes)
            if seen.state is not HostState.BUSY:
                record, state_items = state_item(record, opc_state(seen), now)
                items += state_items
            items += self._samples(machine, seen, now)
            if status is None:
                record = replace(record, message=f"host unreachable: {error}")
            if record.replan_wanted:
                self.request_replan(f"{machine}: {record.message}")
                record = replace(record, replan_wanted=False)
            if self._status_changed(before, seen, now) or record != before:
                record = replace(record, status=seen, status_at=now)
            if record != before:
                tx.save_printer(record)
            result.events = len(self._emit(tx, machine, items))
            open_now = tx.jobs(machine=machine, states=OPEN)
        if exclusion is not None:
            operation, on, reason = exclusion
            self.plans.add_exclusion(operation, on, reason, now)
            self.request_replan(f"re-plan {operation}: {reason}")
        result.can_dispatch = not open_now and seen.state is HostState.IDLE
        return result

    def _unconfirmed(self, job: PrintJob, seen: PrinterStatus, now: datetime) -> bool:
        """A host that shows the job's file idle below 100 % has either stopped it or not yet
        updated the progress of a print that just ended (OctoPrint updates its progress every
        few seconds and a busy host answers late). Only the same answer `confirm_s` later
        counts as a stop."""
        ours = seen.job is not None and seen.job.rsplit("/", 1)[-1] == job.file
        if not (ours and seen.state is HostState.IDLE and not seen.job_done):
            self._suspect.pop(job.id, None)
            return False
        since = self._suspect.setdefault(job.id, now)
        if (now - since).total_seconds() < self.settings.confirm_s:
            return True
        self._suspect.pop(job.id, None)
        return False

    def _count(self, outcomes: Sequence[str]) -> None:
        for outcome in outcomes:
            if outcome == "failed":
                self.counters.failed_starts += 1
            else:
                setattr(self.counters, outcome, getattr(self.counters, outcome) + 1)

    def _status_changed(self, record: PrinterRecord, seen: PrinterStatus, now: datetime) -> bool:
        old = record.status
        if (old.state, old.job, old.message) != (seen.state, seen.job, seen.message):
            return True
        if record.status_at is None:
            return True
        if (now - record.status_at).total_seconds() >= self.settings.status_every_s:
            return (old.progress, old.time_left_s, old.temperatures) != (
                seen.progress,
                seen.time_left_s,
                seen.temperatures,
            )
        return False

    def _samples(self, machine: str, status: PrinterStatus, now: datetime) -> list[Item]:
        if not status.temperatures:
            return []
        last = self._last_sample.get(machine)
        if last is not None and (now - last).total_seconds() < self.settings.sample_every_s:
            return []
        self._last_sample[machine] = now
        samples = [
            Sample(signal=f"{t.heater}_temp", value=t.actual, unit="C") for t in status.temperatures
        ]
        samples += [
            Sample(signal=f"{t.heater}_target", value=t.target, unit="C")
            for t in status.temperatures
            if t.target is not None
        ]
        return [(SampleBatch, {"ts": now, "samples": samples})]

    # -- dispatch -----------------------------------------------------------------------------

    def backing_off(self, machine: str) -> bool:
        until = self._backoff.get(machine)
        return until is not None and self.clock.now() < until[0]

    def _back_off(self, machine: str) -> None:
        previous = self._backoff.get(machine)
        wait = (
            self.settings.backoff_s
            if previous is None
            else min(previous[1] * 2, self.settings.backoff_max_s)
        )
        self._backoff[machine] = (self.clock.now() + timedelta(seconds=wait), wait)

    def next_job(self, machine: str) -> tuple[JobSpec, SliceRecord, bytes] | str:
        """The operation to print next on `machine`, with its slice and G-code, or why none:
        the first operation of the plan's queue for the printer that is still to print."""
        printer = self._machine(machine)
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
        if not record.plate_clear:
            return (
                f"waiting for the plate to be cleared (microfactory printers plate-clear {machine})"
            )
        skipped: list[str] = []
        for operation in self._unprinted(self.queue(machine)):
            why = self._not_ready(operation, machine)
            if why is not None:
                skipped.append(why)
                continue
            spec = self.specs.get(operation)
            if isinstance(spec, str):
                skipped.append(spec)
                continue
            return self._check(printer, record, spec)
        if skipped:
            return f"nothing to print: {skipped[0]}"
        return "nothing planned on this printer"

    def _not_ready(self, operation: str, machine: str) -> str | None:
        try:
            with self.uow() as tx:
                op = tx.work_orders.get_operation(operation)
                wo = tx.work_orders.get(op.work_order)
        except NotFound:
            return f"{operation} no longer exists"
        return operation_not_ready(op, wo, machine)

    def _check(
        self, printer: Machine, record: PrinterRecord, spec: JobSpec
    ) -> tuple[JobSpec, SliceRecord, bytes] | str:
        assert printer.profile is not None
        why = printer_mismatch(
            record,
            profile=printer.profile,
            profile_nozzle_mm=self._profile_nozzle(printer),
            material=spec.material,
            bbox_mm=spec.bbox_mm,
        )
        if why is not None:
            return self._reroute(spec, printer.id, why)
        slice_record, gcode = self.slicing.ready(spec, printer.profile)
        if self.slicing.settled(slice_record):
            assert slice_record is not None
            return self._reroute(spec, printer.id, f"slicer: {slice_record.error}")
        if slice_record is None or not slice_record.ok or gcode is None:
            with self._lock:
                self._wanted[(spec.operation, printer.profile)] = spec
            return f"waiting for the slicer ({spec.operation})"
        why = filament_short(
            record, slice_record, material=spec.material, margin=self.settings.filament_margin
        )
        if why is not None:
            return self._reroute(spec, printer.id, why)
        return spec, slice_record, gcode

    def _reroute(self, spec: JobSpec, machine: str, reason: str) -> str:
        """Keep the operation off this printer and ask for a replan (once per reason)."""
        if self.plans.add_exclusion(spec.operation, machine, reason, self.clock.now()):
            self.counters.rerouted += 1
            self.request_replan(f"re-route {spec.operation} off {machine}: {reason}")
            return f"not started here, re-planned: {spec.operation}: {reason}"
        return f"waiting: {spec.operation}: {reason}"

    def note(self, machine: str, message: str) -> None:
        """Show `message` on the printer (when it changed). A printer waiting for its plate
        keeps a message that already says so (it tells why, e.g. a print was aborted)."""
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
            if message.startswith(PLATE_WAIT) and "plate" in record.message:
                return
            if record.message != message:
                tx.save_printer(replace(record, message=message))

    def dispatch(self, machine: str, host: PrinterHost) -> PrintJob | None:
        """Upload and start the next job on an idle printer with a clear plate; None (and
        the reason on the printer) when there is none or the host refused."""
        if self.backing_off(machine):
            return None
        chosen = self.next_job(machine)
        if isinstance(chosen, str):
            self.note(machine, chosen)
            return None
        spec, slice_record, gcode = chosen
        now = self.clock.now()
        with self.store.transaction() as tx:
            if tx.jobs(machine=machine, states=OPEN):
                return None
            attempt = 1 + len(
                tx.jobs(machine=machine, operation=spec.operation, states=(JobState.ABORTED,))
            )
            job_id = new_id("PJ")
            job = PrintJob(
                id=job_id,
                machine=machine,
                operation=spec.operation,
                work_order=spec.work_order,
                attempt=attempt,
                state=JobState.STARTING,
                file=f"mf-{job_id}.gcode".lower(),
                slice_key=slice_record.key,
                parts=spec.parts,
                filament_g=slice_record.filament_g or 0.0,
                created_at=now,
                started_at=now,
            )
            tx.add_job(job)  # before the host hears of it: a restart finds and adopts it
            record = record_of(tx, machine)
            tx.save_printer(
                replace(record, message=f"starting {spec.operation} (attempt {attempt})")
            )
        try:  # one request: upload, select and print
            host.upload(job.file, gcode, start=True)
        except (ConnectorError, Conflict, NotFound) as exc:
            if isinstance(exc, Conflict):  # stored but not started: take it back
                self.tidy(machine, host, job.file)
            self._refused(machine, job, f"start of {spec.operation} failed: {exc}")
            return None
        self._backoff.pop(machine, None)
        self.counters.dispatched += 1
        if job.filament_g > 0 and self.factory is not None:
            # the slicer's grams replace the quote's and the BOM's: the reactor issues them
            # from the spool's lot when the print's `finished` event is applied
            with self.uow() as utx:
                record_slicer_estimate(
                    utx, self.factory, job.operation, spec.material, job.filament_g / job.parts
                )
                utx.commit()
        return job

    def _refused(self, machine: str, job: PrintJob, why: str) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            fail(tx, job, now, why)
            self.counters.failed_starts += 1
            record = record_of(tx, machine)
            tx.save_printer(replace(record, message=f"{why}; the operation stays planned"))
        self._back_off(machine)

    def tidy(self, machine: str, host: PrinterHost, file: str) -> bool:
        """Remove a job's file from the host once it is no longer needed (best effort: a
        failure is logged and counted, the file stays)."""
        try:
            host.remove(file)
        except (ConnectorError, Conflict, NotFound) as exc:
            self.counters.tidy_failed += 1
            log.warning("could not remove %s from %s (%s): %s", file, machine, host.name, exc)
            return False
        return True

    def open_jobs(self) -> Mapping[str, PrintJob]:
        with self.store.transaction() as tx:
            return {j.machine: j for j in tx.jobs(states=OPEN)}
