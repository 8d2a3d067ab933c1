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
from microfactory.core.errors import Conflict, ConnectorError, NotFound, ValidationError
from microfactory.core.ids import new_id
from microfactory.orders import Factory, WorkStatus
from microfactory.services.ports import PrinterHost, PrintFarmStore, PrintFarmTx, UnitOfWorkFactory
from microfactory.services.printfarm_slicing import JobSpec, JobSpecs, SlicingService
from microfactory.shopfloor.events import (
    Event,
    JobEvent,
    PartCounter,
    Sample,
    SampleBatch,
    StateChanged,
    new_event_id,
)
from microfactory.shopfloor.machines import Machine, MachineMode, MachineState
from microfactory.shopfloor.printers import (
    HostState,
    JobState,
    PlateClearing,
    PrinterRecord,
    PrinterStatus,
    PrintJob,
    SliceRecord,
    Spool,
)

log = logging.getLogger(__name__)
OPEN = (JobState.UPLOADING, JobState.STARTING, JobState.PRINTING)
PLATE_WAIT = "waiting for the plate to be cleared"
RE_ROUTE = ("material", "filament", "nozzle")
"""Exclusion categories an operator's spool or nozzle change may lift."""


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


def opc_state(status: PrinterStatus) -> tuple[MachineState, MachineMode, str | None] | None:
    """The OPC 40001 state a host state maps to (None: transitional, publish nothing)."""
    s = status.state
    if s is HostState.IDLE:
        return MachineState.NOT_EXECUTING, MachineMode.IDLE, None
    if s is HostState.PRINTING:
        return MachineState.EXECUTING, MachineMode.PROCESSING, None
    if s is HostState.PAUSED:
        return MachineState.NOT_EXECUTING, MachineMode.PROCESSING, "paused"
    if s is HostState.ERROR:
        return MachineState.OUT_OF_SERVICE, MachineMode.IDLE, f"breakdown: {status.message}"[:64]
    if s is HostState.OFFLINE:
        return MachineState.NOT_AVAILABLE, MachineMode.IDLE, "printer offline"
    if s is HostState.UNREACHABLE:
        return MachineState.NOT_AVAILABLE, MachineMode.IDLE, "host unreachable"
    return None


def _category(reason: str) -> str:
    return reason.split(":", 1)[0]


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

    # -- printers --------------------------------------------------------------------------

    def sync(self, factory: Factory) -> list[str]:
        """Take the printers with a host from the factory; create their records (plate not
        yet confirmed clear, no spool) and keep their build volume and nozzle current."""
        self.factory = factory
        self.machines = {m.id: m for m in factory.machines if m.host is not None}
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

    def _record(self, tx: PrintFarmTx, machine: str) -> PrinterRecord:
        record = tx.printer(machine)
        if record is None:
            raise NotFound(f"printer {machine} has no record: run the print farm once")
        return record

    # -- operator actions (printer state the print farm owns: written here, who and when) -

    def plate_clear(self, machine: str, by: str) -> PrinterRecord:
        """An operator confirms the build plate is clear."""
        self._machine(machine)
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = self._record(tx, machine)
            running = tx.jobs(machine=machine, states=OPEN)
            if running:
                raise Conflict(
                    f"{machine} is printing {running[0].operation}: its plate is not free"
                )
            record = replace(
                record,
                plate_clear=True,
                changed_by=by,
                changed_at=now,
                message=f"plate confirmed clear by {by}",
            )
            tx.save_printer(record)
        return record

    def load_spool(
        self, machine: str, material: str, *, lot: str | None, grams: float | None, by: str
    ) -> PrinterRecord:
        """An operator loads a spool: its material (a factory material), lot and grams.
        Operations kept off this printer for its material or filament may come back: the
        runtime replans."""
        self._machine(machine)
        factory = self.factory
        if factory is not None and material not in factory.material_map:
            known = ", ".join(sorted(factory.material_map))
            raise ValidationError(
                f"unknown material {material!r} (known: {known})", where="--material"
            )
        if grams is not None and grams < 0:
            raise ValidationError("must not be negative", where="--grams")
        now = self.clock.now()
        with self.store.transaction() as tx:
            running = tx.jobs(machine=machine, states=OPEN)
        if running:
            raise Conflict(
                f"{machine} is printing {running[0].operation}: change the spool after it"
            )
        lifted = self._lift_exclusions(machine)
        with self.store.transaction() as tx:
            record = self._record(tx, machine)
            spool = Spool(material, lot, 1000.0 if grams is None else grams)
            record = replace(
                record,
                spool=spool,
                changed_by=by,
                changed_at=now,
                replan_wanted=record.replan_wanted or lifted > 0,
                message=f"spool loaded by {by}: {material}"
                + (f" lot {lot}" if lot else "")
                + f", {spool.remaining_g:g} g",
            )
            tx.save_printer(record)
        return record

    def configure(
        self,
        machine: str,
        *,
        by: str,
        nozzle_mm: float | None = None,
        plate_clearing: PlateClearing | None = None,
        retry_limit: int | None = None,
    ) -> PrinterRecord:
        """Change a printer's settings (nozzle fitted, who clears the plate, retry limit)."""
        self._machine(machine)
        now = self.clock.now()
        lifted = 0 if nozzle_mm is None else self._lift_exclusions(machine)
        with self.store.transaction() as tx:
            record = self._record(tx, machine)
            try:
                record = replace(
                    record,
                    nozzle_mm=record.nozzle_mm if nozzle_mm is None else nozzle_mm,
                    plate_clearing=plate_clearing or record.plate_clearing,
                    retry_limit=record.retry_limit if retry_limit is None else retry_limit,
                    changed_by=by,
                    changed_at=now,
                    replan_wanted=record.replan_wanted or lifted > 0,
                    message=f"settings changed by {by}",
                )
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            tx.save_printer(record)
        return record

    def _lift_exclusions(self, machine: str) -> int:
        lifted = 0
        for operation, machines in self.plans.exclusions().items():
            reason = machines.get(machine)
            if reason is not None and _category(reason) in RE_ROUTE:
                lifted += self.plans.clear_exclusions(machine=machine, operation=operation)
        return lifted

    def report(self) -> list[dict[str, Any]]:
        """Every printer: host, state, job, progress, time left, plate, spool, message."""
        with self.store.transaction() as tx:
            records = {r.machine: r for r in tx.printers()}
            jobs = {j.machine: j for j in tx.jobs(states=OPEN)}
        out = []
        for machine_id in sorted(set(records) | set(self.machines)):
            record = records.get(machine_id) or PrinterRecord(machine=machine_id)
            machine = self.machines.get(machine_id)
            status = record.status
            spool = record.spool
            job = jobs.get(machine_id)
            out.append(
                {
                    "machine": machine_id,
                    "host": None if machine is None or machine.host is None else machine.host.url,
                    "state": status.state.value,
                    "job": None if job is None else job.operation,
                    "progress": None if status.progress is None else round(status.progress, 1),
                    "time_left_s": status.time_left_s,
                    "plate_clear": record.plate_clear,
                    "material": None if spool is None else spool.material,
                    "remaining_g": None if spool is None else round(spool.remaining_g, 1),
                    "lot": None if spool is None else spool.lot,
                    "nozzle_mm": record.nozzle_mm,
                    "temperatures": {t.heater: t.actual for t in status.temperatures},
                    "message": record.message,
                    "seen_at": None if record.status_at is None else record.status_at.isoformat(),
                    "changed_by": record.changed_by or None,
                }
            )
        return out

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

    def _emit(
        self, tx: PrintFarmTx, machine: str, items: Sequence[tuple[type[Any], dict[str, Any]]]
    ) -> list[Event]:
        if not items:
            return []
        first = tx.allocate_seq(machine, len(items))
        events: list[Event] = [
            cls(event_id=new_event_id(), machine=machine, seq=first + i, **kw)
            for i, (cls, kw) in enumerate(items)
        ]
        tx.add_events(events, self.clock.now())
        return events

    @staticmethod
    def _state_item(
        record: PrinterRecord,
        state: tuple[MachineState, MachineMode, str | None] | None,
        ts: datetime,
    ) -> tuple[PrinterRecord, list[tuple[type[Any], dict[str, Any]]]]:
        if state is None:
            return record, []
        key = f"{state[0].value}/{state[1].value}/{state[2] or ''}"
        if key == record.published_state:
            return record, []
        item = (StateChanged, {"ts": ts, "state": state[0], "mode": state[1], "reason": state[2]})
        return replace(record, published_state=key), [item]

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
        after: list[Callable[[], object]] = []  # what touches other stores runs after the commit
        with self.store.transaction() as tx:
            record = self._record(tx, machine)
            before = record
            items: list[tuple[type[Any], dict[str, Any]]] = []
            open_jobs = tx.jobs(machine=machine, states=OPEN)
            for stale in open_jobs[:-1]:  # never more than one; keep the newest
                tx.save_job(
                    replace(stale, state=JobState.FAILED, ended_at=now, reason="superseded")
                )
            job = open_jobs[-1] if open_jobs else None
            if job is not None and seen.state is not HostState.UNREACHABLE:
                record, job_items, ended = self._settle(tx, record, job, seen, now, after)
                items += job_items
                result.ended_file = ended
            if seen.state is not HostState.BUSY:
                record, state_items = self._state_item(record, opc_state(seen), now)
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
        for action in after:
            action()
        result.can_dispatch = not open_now and seen.state is HostState.IDLE
        return result

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

    def _samples(
        self, machine: str, status: PrinterStatus, now: datetime
    ) -> list[tuple[type[Any], dict[str, Any]]]:
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

    def _settle(
        self,
        tx: PrintFarmTx,
        record: PrinterRecord,
        job: PrintJob,
        seen: PrinterStatus,
        now: datetime,
        after: list[Callable[[], object]],
    ) -> tuple[PrinterRecord, list[tuple[type[Any], dict[str, Any]]], str | None]:
        """Move an open job along by what the host shows. Returns the printer record, the
        events to publish and the file of a job that ended."""
        ours = seen.job is not None and seen.job.rsplit("/", 1)[-1] == job.file
        running = seen.state in (HostState.PRINTING, HostState.PAUSED, HostState.BUSY)
        items: list[tuple[type[Any], dict[str, Any]]] = []
        if job.state in (JobState.UPLOADING, JobState.STARTING):
            if ours and (
                running
                or seen.job_done
                or seen.state is HostState.ERROR
                or (seen.state is HostState.IDLE and (seen.progress or 0) > 0)
            ):
                record, job, items = self._started(tx, record, job, seen, now)
            elif job.state is JobState.UPLOADING:
                self._fail(tx, job, now, "the upload was interrupted (runtime restarted)")
                return record, items, None
            else:
                sent = job.started_at or job.created_at
                if (now - sent).total_seconds() < self.settings.start_grace_s:
                    return record, items, None
                busy = f" (it shows {seen.job})" if seen.job and not ours else ""
                self._fail(tx, job, now, f"the printer did not start the job{busy}")
                return (
                    replace(record, message=f"start of {job.operation} not confirmed{busy}"),
                    items,
                    None,
                )
        if job.state is not JobState.PRINTING:
            return record, items, None
        if ours and running:
            return record, items, None
        if ours and seen.job_done:
            record, more = self._finished(tx, record, job, now)
            return record, items + more, job.file
        if seen.state is HostState.ERROR:
            why = f"printer error: {seen.message or 'unknown'}"
        elif seen.state is HostState.OFFLINE:
            why = "the printer went offline during the print"
        elif ours:
            why = f"cancelled on the printer at {seen.progress or 0:.0f} %"
        elif seen.job is None:
            why = "the host lost the job (it shows none)"
        else:
            why = f"the printer is on another file ({seen.job})"
        record, more = self._aborted(tx, record, job, seen, now, why, after)
        return record, items + more, job.file

    def _started(
        self,
        tx: PrintFarmTx,
        record: PrinterRecord,
        job: PrintJob,
        seen: PrinterStatus,
        now: datetime,
    ) -> tuple[PrinterRecord, PrintJob, list[tuple[type[Any], dict[str, Any]]]]:
        at = now - timedelta(seconds=seen.print_time_s) if seen.print_time_s else now
        at = max(at, job.started_at or job.created_at)
        job = replace(job, state=JobState.PRINTING, started_at=at)
        tx.save_job(job)
        self.counters.started += 1
        record = replace(
            record,
            plate_clear=False,
            message=f"printing {job.operation} (attempt {job.attempt})",
        )
        executing = (MachineState.EXECUTING, MachineMode.PROCESSING, None)
        record, items = self._state_item(record, executing, at)
        items.append(
            (
                JobEvent,
                {
                    "ts": at,
                    "action": "started",
                    "work_order": job.work_order,
                    "operation": job.operation,
                },
            )
        )
        return record, job, items

    def _finished(
        self, tx: PrintFarmTx, record: PrinterRecord, job: PrintJob, now: datetime
    ) -> tuple[PrinterRecord, list[tuple[type[Any], dict[str, Any]]]]:
        tx.save_job(replace(job, state=JobState.FINISHED, ended_at=now))
        self.counters.finished += 1
        spool = record.spool
        if spool is not None:
            spool = replace(spool, remaining_g=max(0.0, spool.remaining_g - job.filament_g))
        by_gcode = record.plate_clearing is PlateClearing.GCODE
        record = replace(
            record,
            spool=spool,
            plate_clear=by_gcode,
            message=f"finished {job.operation}"
            + ("; the printer cleared its plate" if by_gcode else "; clear the plate"),
        )
        items: list[tuple[type[Any], dict[str, Any]]] = [
            (PartCounter, {"ts": now, "good": job.parts, "work_order": job.work_order}),
            (
                JobEvent,
                {
                    "ts": now,
                    "action": "finished",
                    "work_order": job.work_order,
                    "operation": job.operation,
                    "good": job.parts,
                },
            ),
        ]
        idle = (MachineState.NOT_EXECUTING, MachineMode.IDLE, None)
        record, state = self._state_item(record, idle, now)
        return record, items + state

    def _aborted(
        self,
        tx: PrintFarmTx,
        record: PrinterRecord,
        job: PrintJob,
        seen: PrinterStatus,
        now: datetime,
        why: str,
        after: list[Callable[[], object]],
    ) -> tuple[PrinterRecord, list[tuple[type[Any], dict[str, Any]]]]:
        tx.save_job(replace(job, state=JobState.ABORTED, ended_at=now, reason=why))
        self.counters.aborted += 1
        spool = record.spool
        if spool is not None:  # what was printed before the stop is used up
            used = job.filament_g * (seen.progress or 0.0) / 100.0
            spool = replace(spool, remaining_g=max(0.0, spool.remaining_g - used))
        attempts = len(
            tx.jobs(machine=job.machine, operation=job.operation, states=(JobState.ABORTED,))
        )
        allowed = 1 + record.retry_limit
        if attempts >= allowed:
            reason = f"failed: {attempts} attempts on {job.machine}, the last: {why}"
            after.append(lambda: self.plans.add_exclusion(job.operation, job.machine, reason, now))
            after.append(lambda: self.request_replan(f"re-plan {job.operation}: {reason}"))
            message = (
                f"gave up on {job.operation} after {attempts} attempts ({why}); re-planned; "
                "clear the plate"
            )
        else:
            message = (
                f"attempt {attempts} of {allowed} of {job.operation} aborted: {why}; "
                "retried once the plate is clear"
            )
        record = replace(record, spool=spool, plate_clear=False, message=message)
        items: list[tuple[type[Any], dict[str, Any]]] = [
            (
                JobEvent,
                {
                    "ts": now,
                    "action": "aborted",
                    "work_order": job.work_order,
                    "operation": job.operation,
                },
            )
        ]
        state = opc_state(seen) if seen.state is HostState.ERROR else None
        state = state or (MachineState.NOT_EXECUTING, MachineMode.IDLE, "print aborted")
        record, state_items = self._state_item(record, state, now)
        return record, items + state_items

    def _fail(self, tx: PrintFarmTx, job: PrintJob, now: datetime, why: str) -> None:
        """A job that never started: the operation stays planned (not an attempt)."""
        tx.save_job(replace(job, state=JobState.FAILED, ended_at=now, reason=why))
        self.counters.failed_starts += 1

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
            record = self._record(tx, machine)
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
        if wo.status in (WorkStatus.HELD, WorkStatus.CANCELLED, WorkStatus.DONE):
            return f"{operation}: work order {wo.id} is {wo.status}"
        if op.status in (WorkStatus.DONE, WorkStatus.CANCELLED, WorkStatus.HELD):
            return f"{operation} is {op.status}"
        if op.status is WorkStatus.RUNNING and op.machine not in (None, machine):
            return f"{operation} runs on {op.machine}"
        by_seq = {o.seq: o for o in wo.operations}
        waiting = [
            p for p in op.predecessors if p in by_seq and by_seq[p].status != WorkStatus.DONE
        ]
        if waiting:
            return f"{operation} waits for operation {waiting[0]} of {wo.id}"
        return None

    def _check(
        self, printer: Machine, record: PrinterRecord, spec: JobSpec
    ) -> tuple[JobSpec, SliceRecord, bytes] | str:
        assert printer.profile is not None
        machine = printer.id
        nozzle = self._profile_nozzle(printer)
        if (
            nozzle is not None
            and record.nozzle_mm is not None
            and abs(nozzle - record.nozzle_mm) > 1e-6
        ):
            return self._reroute(
                spec,
                machine,
                f"nozzle: profile {printer.profile} needs {nozzle:g} mm, "
                f"{record.nozzle_mm:g} mm is fitted",
            )
        if (
            record.build_volume_mm is not None
            and spec.bbox_mm != (0.0, 0.0, 0.0)
            and not all(
                p <= v
                for p, v in zip(sorted(spec.bbox_mm), sorted(record.build_volume_mm), strict=True)
            )
        ):
            size = " × ".join(f"{v:g}" for v in spec.bbox_mm)
            return self._reroute(
                spec, machine, f"fit: the part ({size} mm) does not fit this printer"
            )
        spool = record.spool
        if spool is None:
            return self._reroute(
                spec, machine, f"material: needs {spec.material}, no spool is loaded"
            )
        if spool.material != spec.material:
            return self._reroute(
                spec, machine, f"material: needs {spec.material}, {spool.material} is loaded"
            )
        slice_record, gcode = self.slicing.ready(spec, printer.profile)
        if self.slicing.settled(slice_record):
            assert slice_record is not None
            return self._reroute(spec, machine, f"slicer: {slice_record.error}")
        if slice_record is None or not slice_record.ok or gcode is None:
            with self._lock:
                self._wanted[(spec.operation, printer.profile)] = spec
            return f"waiting for the slicer ({spec.operation})"
        needed = (slice_record.filament_g or 0.0) * self.settings.filament_margin
        if spool.remaining_g < needed:
            return self._reroute(
                spec,
                machine,
                f"filament: needs {needed:.1f} g of {spec.material}, "
                f"{spool.remaining_g:.1f} g are left on the spool",
            )
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
            record = self._record(tx, machine)
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
                state=JobState.UPLOADING,
                file=f"mf-{job_id}.gcode".lower(),
                slice_key=slice_record.key,
                parts=spec.parts,
                filament_g=slice_record.filament_g or 0.0,
                created_at=now,
            )
            tx.add_job(job)
        try:
            stored = host.upload(job.file, gcode)
        except (ConnectorError, Conflict, NotFound) as exc:
            self._refused(machine, job, f"upload of {spec.operation} failed: {exc}")
            return None
        with self.store.transaction() as tx:
            job = replace(
                job,
                file=stored.rsplit("/", 1)[-1],
                state=JobState.STARTING,
                started_at=self.clock.now(),
            )
            tx.save_job(job)
        try:
            host.start(stored)
        except (ConnectorError, Conflict, NotFound) as exc:
            self.tidy(machine, host, stored)
            self._refused(machine, job, f"start of {spec.operation} refused: {exc}")
            return None
        self._backoff.pop(machine, None)
        self.counters.dispatched += 1
        self.note(machine, f"starting {spec.operation} (attempt {job.attempt})")
        return job

    def _refused(self, machine: str, job: PrintJob, why: str) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            self._fail(tx, job, now, why)
            record = self._record(tx, machine)
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
