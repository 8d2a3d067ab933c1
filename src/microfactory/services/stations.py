"""People on the event path: what a person records at a station (an operation started or
finished with its good and scrap parts, aborted) enters as the same `job` event a connected
machine would send, with the person as its `source`; the ingester stores it and the reactor
applies it by the same rules. A shop without connected machines runs on this alone.

The operator terminal records more the same way, each as the event a machine would send:

* **pause / resume** a running operation: a `state` event (NotExecuting, reason
  `paused:<operation>`; Executing/processing, reason `resumed`), so OEE counts the pause as
  lost time; the operation stays running.
* **downtime** with a reason from `DOWNTIME_REASONS`: `breakdown` is OutOfService with reason
  `breakdown:<note>` (the planner adds the downtime and replans, TPM renews the machine, as
  for a machine's own breakdown); any other reason is NotExecuting with reason `down:<code>`.
  **Back up** ends it (`repaired` after a breakdown).
* **measurement** of a product characteristic: a `measurement` event (SPC, alerts, holds).
* **maintenance** started and done (`pm:<work order>`, `pm_done:<work order>`): TPM closes
  the work order and starts the machine's usage counters again.

`StationService.record` stores the event, has it applied, then answers with the operation as
it now stands — or, when the reactor refused the event (an operation already finished, a
machine that cannot run it, ...), raises `Conflict` with the reactor's reason (the event and
its rejection stay recorded). An operation that does not exist is refused (404) before anything
is stored; every other refusal is the reactor's, so that it stays recorded with its reason
(people see it as an alert).

How it is applied: without an applier (the command line, tests of the rules) the request runs
the reactor itself and serves the replans it raised. With a `BackgroundApplier` (the server)
the request only stores the event and waits, at most `wait_s`, while the applier's thread
applies it together with the other requests' events in one batch; replans follow on the
applier's planner thread. When the wait runs out the action is stored, not lost: it is
applied with the next batch and `record_job` says so (`applied` False: pending)."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from microfactory.core.clock import Clock
from microfactory.core.errors import (
    Conflict,
    ConnectorError,
    MicrofactoryError,
    ValidationError,
)
from microfactory.orders import Factory, WorkOrderOperation, WorkStatus
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.planning import PlanningService
from microfactory.services.ports import TelemetryWriter, UnitOfWorkFactory
from microfactory.services.quality import find_characteristic
from microfactory.services.reactor import BackgroundApplier, Reactor
from microfactory.services.station_queue import CurrentPlan, QueueCache
from microfactory.shopfloor.events import (
    Event,
    JobEvent,
    MachineStatus,
    Measurement,
    StateChanged,
    new_event_id,
)
from microfactory.shopfloor.machines import MachineMode, MachineState

Action = Literal["started", "finished", "aborted"]
# the operation statuses people and other tools see (contract of `orders show --json`)
OPERATION_STATUS = {
    "planned": "planned",
    "released": "planned",
    "held": "planned",
    "running": "running",
    "done": "done",
    "aborted": "aborted",
    "cancelled": "aborted",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")
_NOTE = re.compile(r"[^A-Za-z0-9_.,:/ -]")
DOWNTIME_REASONS: dict[str, str] = {
    "breakdown": "Breakdown: the machine needs repair",
    "no_material": "Waiting for material",
    "no_operator": "No operator",
    "tooling": "Tool, nozzle or plate change",
    "cleaning": "Cleaning",
    "quality_check": "Waiting for a quality check",
    "other": "Other stop",
}
"""Why a machine stands, as an operator reports it (code → words on the terminal)."""


def _placed(op: WorkOrderOperation) -> bool:
    """The operation ran or runs on a known machine (no plan needed to tell which)."""
    return bool(op.machine) and op.status in (WorkStatus.RUNNING, WorkStatus.DONE)


def source_of(user: str) -> str:
    """The event `source` of a person (the name made safe for the event schema)."""
    if not user:
        raise ValidationError("who records it must be known", where="user")
    return "user:" + (_UNSAFE.sub("_", user)[:58] or "unknown")


@dataclass(frozen=True)
class StationAction:
    operation: str
    action: Action
    user: str
    machine: str | None = None
    good: int = 0
    scrap: int = 0

    def __post_init__(self) -> None:
        if self.good < 0 or self.scrap < 0:
            raise ValidationError("good and scrap must not be negative", where="good")
        if self.good > 10_000_000 or self.scrap > 10_000_000:
            raise ValidationError("good and scrap must be at most 10,000,000", where="good")
        if not self.user:
            raise ValidationError("who records it must be known", where="user")


@dataclass(frozen=True)
class Recorded:
    """A station action as recorded: the operation as it stands, and whether the action is
    applied yet (False: stored, applied with the applier's next batch — pending)."""

    operation: WorkOrderOperation
    applied: bool


class _Ticket:
    """One event handed to the applier's thread, and what became of it."""

    def __init__(self, event: Event) -> None:
        self.event = event
        self.done = threading.Event()
        self.position: int | None = None
        self.error: MicrofactoryError | None = None


class StationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        telemetry: TelemetryWriter,
        reactor: Reactor,
        planning: PlanningService,
        factory: Factory,
        clock: Clock,
        *,
        applier: BackgroundApplier | None = None,
        wait_s: float = 5.0,
    ) -> None:
        if wait_s <= 0:
            raise ValueError("a station's wait for the applier must be positive seconds")
        self.uow = uow
        self.telemetry = telemetry
        self.reactor = reactor
        self.planning = planning
        self.factory = factory
        self.clock = clock
        self.applier = applier
        self.wait_s = wait_s
        self.store_s = max(30.0, wait_s)
        self.plan = CurrentPlan()
        """The current plan's machine per operation, kept per plan version."""
        self.queues = QueueCache(plan=self.plan)
        """The terminal's queue per machine (see `QueueCache`)."""
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        if applier is not None:
            applier.intake = self._intake

    def record(self, action: StationAction) -> WorkOrderOperation:
        """Record `action`; the operation as it stands once the action is applied."""
        return self.record_job(action).operation

    def record_job(self, action: StationAction) -> Recorded:
        """Record `action`; the operation as it stands, and whether the action is applied
        yet (False: stored, and applied with the applier's next batch)."""
        with self.uow() as tx:
            op = tx.work_orders.get_operation(action.operation)
            planned = None if action.machine or _placed(op) else self.plan.machine_of(tx, op.id)
        machine = action.machine or self._machine(op, planned)
        self._known(machine)
        event = JobEvent(
            event_id=new_event_id(),
            machine=machine,
            seq=0,
            ts=self.clock.now(),
            source=source_of(action.user),
            action=action.action,
            work_order=op.work_order,
            operation=op.id,
            good=action.good,
            reject=action.scrap,
        )
        applied = self.submit(event)
        with self.uow() as tx:
            return Recorded(tx.work_orders.get_operation(op.id), applied)

    def submit(self, event: Event) -> bool:
        """Store one event and have it applied; raise `Conflict` with the reactor's reason
        when it refused the event. False when the applier did not apply it within `wait_s`
        (it is stored, and applied with the next batch)."""
        if self.applier is not None:
            position = self._hand_over(event)
            if position is None:  # a duplicate or held for review: nothing to wait for
                return True
            if not self.applier.wait(position, self.wait_s):
                return False
        else:
            result = self._ingester().process_events([event])
            if result.dead:
                raise ValidationError(result.dead[0].reason, where="event")
            applied = self.reactor.catch_up()
            if applied.replans_requested:  # replans asked before are served where asked
                self.planning.serve_requests()
        self._refused(event)
        return True

    def _ingester(self) -> Ingester:
        return Ingester(
            self.telemetry,
            clock=self.clock,
            known_machines=list(self.factory.machine_map),
            settings=IngestSettings(max_future=None),
        )

    def _hand_over(self, event: Event) -> int | None:
        """Queue `event` for the applier's thread, which stores it with the others queued
        (one transaction); its store position once committed (None: not stored, a duplicate
        or held for review). Not stored within `store_s`: taken back, `ConnectorError`."""
        assert self.applier is not None
        if self.applier.closed:
            raise ConnectorError("the server is stopping: the action was not recorded, try again")
        ticket = _Ticket(event)
        with self._queue_lock:
            self._queue.append(ticket)
        self.applier.poke()
        if not ticket.done.wait(self.store_s):
            with self._queue_lock:
                waiting = ticket in self._queue
                if waiting:
                    self._queue.remove(ticket)
            if waiting:
                raise ConnectorError(
                    f"the event store did not take the action within {self.store_s:g} s; "
                    "it was not recorded, try again"
                )
            ticket.done.wait()  # being stored at this moment: its outcome follows
        if ticket.error is not None:
            raise ticket.error
        return ticket.position

    def _intake(self) -> None:
        """On the applier's thread: store every queued event in one transaction."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            result = self._ingester().process_events([t.event for t in batch])
            stored = {e.event_id for e in result.new}
            position = None
            if stored:
                with self.uow() as tx:
                    position = tx.events.last_position()  # each one's, or one after it
            for t in batch:
                dead = next(
                    (d for d in result.dead if t.event.event_id.encode() in d.payload), None
                )
                if dead is not None:
                    t.error = ValidationError(dead.reason, where="event")
                elif t.event.event_id in stored:
                    t.position = position
        except Exception as exc:
            for t in batch:
                t.error = ConnectorError(f"the action could not be stored: {exc}"[:300])
            raise
        finally:
            for t in batch:
                t.done.set()

    def _refused(self, event: Event) -> None:
        """Raise `Conflict` with the reactor's reason if it rejected `event`."""
        with self.uow() as tx:
            for rejection in tx.reactor.rejections(
                machine=event.machine, event_id=event.event_id, limit=1
            ):
                raise Conflict(rejection.reason)

    # -- what else a person reports at a station ---------------------------------------

    def status(self, machine: str) -> MachineStatus:
        """The machine's state as the event store knows it."""
        self._known(machine)
        for s in self.telemetry.machine_statuses():
            if s.machine == machine:
                return s
        return MachineStatus(machine)

    def _state(
        self, machine: str, user: str, state: MachineState, mode: MachineMode, reason: str | None
    ) -> MachineStatus:
        event = StateChanged(
            event_id=new_event_id(),
            machine=machine,
            seq=0,
            ts=self.clock.now(),
            source=source_of(user),
            state=state,
            mode=mode,
            reason=None if reason is None else reason[:64],
        )
        self.submit(event)
        return self.status(machine)

    def _running(self, operation: str) -> WorkOrderOperation:
        with self.uow() as tx:
            op = tx.work_orders.get_operation(operation)
        if op.status != WorkStatus.RUNNING or op.machine is None:
            raise Conflict(f"operation {op.id} is not running (it is {op.status.value})")
        return op

    def pause(self, operation: str, user: str) -> MachineStatus:
        """A running operation stops for a while on its machine (it stays running)."""
        op = self._running(operation)
        assert op.machine is not None
        now = self.status(op.machine)
        if (now.reason or "").startswith("paused:"):
            raise Conflict(f"{op.machine} is paused already")
        return self._state(
            op.machine, user, MachineState.NOT_EXECUTING, MachineMode.IDLE, f"paused:{op.id}"
        )

    def resume(self, operation: str, user: str) -> MachineStatus:
        op = self._running(operation)
        assert op.machine is not None
        now = self.status(op.machine)
        if not (now.reason or "").startswith("paused:"):
            raise Conflict(f"{op.machine} is not paused")
        return self._state(
            op.machine, user, MachineState.EXECUTING, MachineMode.PROCESSING, "resumed"
        )

    def downtime(self, machine: str, reason: str, user: str, note: str = "") -> MachineStatus:
        """The machine stands, for `reason` (a code of `DOWNTIME_REASONS`)."""
        if reason not in DOWNTIME_REASONS:
            known = ", ".join(DOWNTIME_REASONS)
            raise ValidationError(
                f"unknown downtime reason {reason!r} (known: {known})", where="reason"
            )
        current = self.status(machine)
        if current.state == MachineState.OUT_OF_SERVICE or (current.reason or "").startswith(
            "down:"
        ):
            raise Conflict(f"{machine} is down already ({current.reason or current.state.value})")
        if reason == "breakdown":
            text = _NOTE.sub("_", note.strip())[:50] or "reported at the station"
            return self._state(
                machine,
                user,
                MachineState.OUT_OF_SERVICE,
                MachineMode.MAINTENANCE,
                f"breakdown:{text}",
            )
        return self._state(
            machine, user, MachineState.NOT_EXECUTING, MachineMode.IDLE, f"down:{reason}"
        )

    def back_up(self, machine: str, user: str) -> MachineStatus:
        """The downtime the station reported is over."""
        current = self.status(machine)
        reason = current.reason or ""
        if current.state == MachineState.OUT_OF_SERVICE and reason.startswith("breakdown"):
            return self._state(
                machine, user, MachineState.NOT_EXECUTING, MachineMode.IDLE, "repaired"
            )
        if reason.startswith("down:"):
            return self._state(machine, user, MachineState.NOT_EXECUTING, MachineMode.IDLE, None)
        raise Conflict(f"{machine} is not down ({reason or current.state.value})")

    def maintenance(self, machine: str, work_order: str, user: str, *, done: bool) -> None:
        """Maintenance work order `work_order` started (`done` False) or done on `machine`."""
        if done:
            self._state(
                machine, user, MachineState.NOT_EXECUTING, MachineMode.IDLE, f"pm_done:{work_order}"
            )
        else:
            self._state(
                machine,
                user,
                MachineState.OUT_OF_SERVICE,
                MachineMode.MAINTENANCE,
                f"pm:{work_order}",
            )

    def measure(
        self,
        machine: str,
        characteristic: str,
        value: float,
        user: str,
        *,
        unit: str = "",
        part_id: str | None = None,
        lot_id: str | None = None,
    ) -> dict[str, Any]:
        """A characteristic measured at the station (SPC applies it: alerts, holds)."""
        self._known(machine)
        if not math.isfinite(value):
            raise ValidationError("must be a finite number", where="value")
        try:
            product, char = find_characteristic(self.factory, characteristic)
        except MicrofactoryError as exc:
            raise ValidationError(str(exc), where="characteristic") from None
        event = Measurement(
            event_id=new_event_id(),
            machine=machine,
            seq=0,
            ts=self.clock.now(),
            source=source_of(user),
            characteristic=characteristic,
            value=value,
            unit=unit[:32] or char.unit,
            part_id=part_id or None,
            lot_id=lot_id or None,
        )
        self.submit(event)
        return {"product": product.id, "characteristic": char.name, "value": value}

    def _known(self, machine: str) -> None:
        if machine not in self.factory.machine_map:
            raise ValidationError(f"unknown machine {machine!r}", where="machine")

    def _machine(self, op: WorkOrderOperation, planned: str | None) -> str:
        """The machine the operation runs on, else the one the plan gives it, else its only
        eligible machine."""
        if _placed(op):
            assert op.machine is not None
            return op.machine
        if planned is not None:
            return planned
        eligible = self.factory.eligible_machines(op.capability, op.machines)
        if len(eligible) == 1:
            return eligible[0].id
        names = ", ".join(m.id for m in eligible) or "none"
        raise ValidationError(
            f"operation {op.id} is not planned yet; say which machine ({names})", where="machine"
        )
