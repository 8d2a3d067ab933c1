"""People on the event path: what a person records at a station (an operation started or
finished with its good and scrap parts, aborted) enters as the same `job` event a connected
machine would send, with the person as its `source`; the ingester stores it and the reactor
applies it by the same rules. A shop without connected machines runs on this alone.

`StationService.record` stores the event, applies what is pending and serves the replans it
raised, then answers with the operation as it now stands — or, when the reactor refused the
event (an operation already finished, a machine that cannot run it, ...), raises `Conflict`
with the reactor's reason (the event and its rejection stay recorded)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, ValidationError
from microfactory.orders import Factory, WorkOrderOperation, WorkStatus
from microfactory.services.ingestion import Ingester, IngestSettings, TelemetryWriter
from microfactory.services.planning import PlanningService
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.reactor import Reactor
from microfactory.shopfloor.events import JobEvent, new_event_id

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


class StationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        telemetry: TelemetryWriter,
        reactor: Reactor,
        planning: PlanningService,
        factory: Factory,
        clock: Clock,
    ) -> None:
        self.uow = uow
        self.telemetry = telemetry
        self.reactor = reactor
        self.planning = planning
        self.factory = factory
        self.clock = clock

    def record(self, action: StationAction) -> WorkOrderOperation:
        with self.uow() as tx:
            op = tx.work_orders.get_operation(action.operation)
            stored = tx.plans.current_plan()
        machine = action.machine or self._machine(op, stored)
        if machine not in self.factory.machine_map:
            raise ValidationError(f"unknown machine {machine!r}", where="machine")
        user = _UNSAFE.sub("_", action.user)[:58] or "unknown"
        event = JobEvent(
            event_id=new_event_id(),
            machine=machine,
            seq=0,
            ts=self.clock.now(),
            source=f"user:{user}",
            action=action.action,
            work_order=op.work_order,
            operation=op.id,
            good=action.good,
            reject=action.scrap,
        )
        ingester = Ingester(
            self.telemetry,
            clock=self.clock,
            known_machines=list(self.factory.machine_map),
            settings=IngestSettings(max_future=None),
        )
        result = ingester.process_events([event])
        if result.dead:
            raise ValidationError(result.dead[0].reason, where="event")
        self.reactor.catch_up()
        self.planning.serve_requests()
        with self.uow() as tx:
            for rejection in tx.reactor.rejections(machine=machine, limit=50):
                if rejection.event_id == event.event_id:
                    raise Conflict(rejection.reason)
            return tx.work_orders.get_operation(op.id)

    def _machine(self, op: WorkOrderOperation, stored: object) -> str:
        """The machine the operation runs on, else the one the plan gives it, else its only
        eligible machine."""
        if op.machine and op.status in (WorkStatus.RUNNING, WorkStatus.DONE):
            return op.machine
        if isinstance(stored, tuple):
            for row in stored[1]:
                if row["operation"] == op.id:
                    return str(row["machine"])
        eligible = self.factory.eligible_machines(op.capability, op.machines)
        if len(eligible) == 1:
            return eligible[0].id
        names = ", ".join(m.id for m in eligible) or "none"
        raise ValidationError(
            f"operation {op.id} is not planned yet; say which machine ({names})", where="machine"
        )
