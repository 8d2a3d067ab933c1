"""A print job's life, settled by what the printer's host shows, and the events that say so.

Rules (`settle`):
* A job sent to the host (uploading / starting) has *started* once the host shows its file
  printing, paused, busy, in error, or idle after some progress (a print faster than a poll).
  A start the host never shows within the grace time failed (the operation stays planned; it is
  no attempt); so did an upload a restarted runtime finds unfinished.
* A printing job *finished* when the host shows its file idle at 100 %; it is *aborted* when
  the host shows it idle below 100 % (cancelled at the printer), in error, offline, shows no
  job or another file. Aborted attempts beyond the printer's retry limit keep the operation off
  the printer (an exclusion) and ask for a replan.
* An unreachable host settles nothing: the job waits until the host answers again.

Events: `started` → state Executing + job started (dated back by the host's print time);
`finished` → counter (good parts) + job finished + state NotExecuting; `aborted` → job aborted
+ state (OutOfService "breakdown: ..." on a printer error, else NotExecuting). A printer back
from an error publishes NotExecuting "repaired" (the reactor ends its downtime). The spool loses
the job's filament (the printed share of it when aborted), recorded against the spool's lot
(genealogy and stock); the plate is no longer clear, unless
the printer clears it itself by G-code after a finished print.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from microfactory.services.ports import PrintFarmTx
from microfactory.shopfloor.events import JobEvent, PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.printers import (
    HostState,
    JobState,
    PlateClearing,
    PrinterRecord,
    PrinterStatus,
    PrintJob,
)

Item = tuple[type[Any], dict[str, Any]]
"""An event to publish: its class and fields (id, machine and seq are added on emission)."""
OpcState = tuple[MachineState, MachineMode, str | None]
IDLE: OpcState = (MachineState.NOT_EXECUTING, MachineMode.IDLE, None)
REPAIRED = "repaired"
EXECUTING: OpcState = (MachineState.EXECUTING, MachineMode.PROCESSING, None)


def opc_state(status: PrinterStatus) -> OpcState | None:
    """The OPC 40001 state a host state maps to (None: transitional, publish nothing)."""
    s = status.state
    if s is HostState.IDLE:
        return IDLE
    if s is HostState.PRINTING:
        return EXECUTING
    if s is HostState.PAUSED:
        return MachineState.NOT_EXECUTING, MachineMode.PROCESSING, "paused"
    if s is HostState.ERROR:
        return MachineState.OUT_OF_SERVICE, MachineMode.IDLE, f"breakdown: {status.message}"[:64]
    if s is HostState.OFFLINE:
        return MachineState.NOT_AVAILABLE, MachineMode.IDLE, "printer offline"
    if s is HostState.UNREACHABLE:
        return MachineState.NOT_AVAILABLE, MachineMode.IDLE, "host unreachable"
    return None


def state_item(
    record: PrinterRecord, state: OpcState | None, ts: datetime
) -> tuple[PrinterRecord, list[Item]]:
    """A state event when `state` differs from the last one published for the printer."""
    if state is None:
        return record, []
    if (
        state[0] is MachineState.NOT_EXECUTING
        and state[2] is None
        and record.published_state.startswith(f"{MachineState.OUT_OF_SERVICE.value}/")
    ):
        # back from a breakdown: the reactor ends the printer's downtime on "repaired"
        state = (state[0], state[1], REPAIRED)
    key = f"{state[0].value}/{state[1].value}/{state[2] or ''}"
    if key == record.published_state or (
        state[2] is None and record.published_state == key + REPAIRED
    ):
        return record, []
    item = (StateChanged, {"ts": ts, "state": state[0], "mode": state[1], "reason": state[2]})
    return replace(record, published_state=key), [item]


@dataclass
class Settled:
    """What settling a job did: the printer record to store, the events to publish, the file
    of a job that ended (to remove from the host), what happened (for counters), and an
    exclusion to add after the commit (operation, machine, reason) when it was given up."""

    record: PrinterRecord
    items: list[Item] = field(default_factory=list)
    ended_file: str | None = None
    outcomes: list[str] = field(default_factory=list)
    exclusion: tuple[str, str, str] | None = None
    """(material lot, work order, operation, kg) the print used up from the spool's lot."""


def settle(
    tx: PrintFarmTx,
    record: PrinterRecord,
    job: PrintJob,
    seen: PrinterStatus,
    now: datetime,
    *,
    grace_s: float,
) -> Settled:
    """Move an open job along by what the host shows (see the module's rules)."""
    out = Settled(record)
    if seen.state is HostState.UNREACHABLE:
        return out
    ours = seen.job is not None and seen.job.rsplit("/", 1)[-1] == job.file
    running = seen.state in (HostState.PRINTING, HostState.PAUSED, HostState.BUSY)
    if job.state in (JobState.UPLOADING, JobState.STARTING):
        shows_it = ours and (
            running
            or seen.job_done
            or seen.state is HostState.ERROR
            or (seen.state is HostState.IDLE and (seen.progress or 0) > 0)
        )
        if shows_it:
            job = _started(tx, out, job, seen, now)
        elif job.state is JobState.UPLOADING:
            fail(tx, job, now, "the upload was interrupted (runtime restarted)")
            out.outcomes.append("failed")
            return out
        else:
            sent = job.started_at or job.created_at
            if (now - sent).total_seconds() < grace_s:
                return out
            other = f" (it shows {seen.job})" if seen.job and not ours else ""
            fail(tx, job, now, f"the printer did not start the job{other}")
            out.outcomes.append("failed")
            out.record = replace(
                out.record, message=f"start of {job.operation} not confirmed{other}"
            )
            return out
    if job.state is not JobState.PRINTING or (ours and running):
        return out
    out.ended_file = job.file
    if ours and seen.job_done:
        _finished(tx, out, job, now)
        return out
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
    _aborted(tx, out, job, seen, now, why)
    return out


def fail(tx: PrintFarmTx, job: PrintJob, now: datetime, why: str) -> None:
    """A job that never started: the operation stays planned (no attempt is counted)."""
    tx.save_job(replace(job, state=JobState.FAILED, ended_at=now, reason=why))


def _job_item(job: PrintJob, action: str, ts: datetime, **extra: Any) -> Item:
    fields = {"ts": ts, "action": action, "work_order": job.work_order}
    return JobEvent, {**fields, "operation": job.operation, **extra}


def _started(
    tx: PrintFarmTx, out: Settled, job: PrintJob, seen: PrinterStatus, now: datetime
) -> PrintJob:
    at = now - timedelta(seconds=seen.print_time_s) if seen.print_time_s else now
    at = max(at, job.started_at or job.created_at)
    job = replace(job, state=JobState.PRINTING, started_at=at)
    tx.save_job(job)
    out.outcomes.append("started")
    record = replace(
        out.record, plate_clear=False, message=f"printing {job.operation} (attempt {job.attempt})"
    )
    out.record, items = state_item(record, EXECUTING, at)
    out.items += [*items, _job_item(job, "started", at)]
    return job


def _finished(tx: PrintFarmTx, out: Settled, job: PrintJob, now: datetime) -> None:
    tx.save_job(replace(job, state=JobState.FINISHED, ended_at=now))
    out.outcomes.append("finished")
    spool = out.record.spool
    lot = None
    if spool is not None:  # the printer's own view of its spool; the stock follows the event
        spool = replace(spool, remaining_g=max(0.0, spool.remaining_g - job.filament_g))
        lot = spool.lot or None
    by_gcode = out.record.plate_clearing is PlateClearing.GCODE
    record = replace(
        out.record,
        spool=spool,
        plate_clear=by_gcode,
        message=f"finished {job.operation}"
        + ("; the printer cleared its plate" if by_gcode else "; clear the plate"),
    )
    out.items += [
        (PartCounter, {"ts": now, "good": job.parts, "work_order": job.work_order}),
        _job_item(job, "finished", now, good=job.parts, material_lot=lot),
    ]
    out.record, items = state_item(record, IDLE, now)
    out.items += items


def _aborted(
    tx: PrintFarmTx, out: Settled, job: PrintJob, seen: PrinterStatus, now: datetime, why: str
) -> None:
    tx.save_job(replace(job, state=JobState.ABORTED, ended_at=now, reason=why))
    out.outcomes.append("aborted")
    spool = out.record.spool
    if spool is not None:  # what was printed before the stop is used up (on the spool)
        used = job.filament_g * (seen.progress or 0.0) / 100.0
        spool = replace(spool, remaining_g=max(0.0, spool.remaining_g - used))
    attempts = len(
        tx.jobs(machine=job.machine, operation=job.operation, states=(JobState.ABORTED,))
    )
    allowed = 1 + out.record.retry_limit
    if attempts >= allowed:
        reason = f"failed: {attempts} attempts on {job.machine}, the last: {why}"
        out.exclusion = (job.operation, job.machine, reason)
        message = (
            f"gave up on {job.operation} after {attempts} attempts ({why}); re-planned; "
            "clear the plate"
        )
    else:
        message = (
            f"attempt {attempts} of {allowed} of {job.operation} aborted: {why}; "
            "retried once the plate is clear"
        )
    record = replace(out.record, spool=spool, plate_clear=False, message=message)
    state = opc_state(seen) if seen.state is HostState.ERROR else None
    out.record, items = state_item(
        record, state or (MachineState.NOT_EXECUTING, MachineMode.IDLE, "print aborted"), now
    )
    out.items += [_job_item(job, "aborted", now), *items]
