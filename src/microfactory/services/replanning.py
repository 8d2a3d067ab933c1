"""What on the shop floor changes capacity, as a reactor handler: a breakdown takes the
machine out until its expected repair (a downtime the planner plans around, the machine's
MTTR long), a repair gives it back (the downtime ends there); each asks the planning service
for a replan, in the reactor's transaction (served after the commit)."""

from __future__ import annotations

from datetime import timedelta

from microfactory.orders import Factory
from microfactory.services.ports import UnitOfWork
from microfactory.services.reactor import Applied
from microfactory.shopfloor.events import StateChanged
from microfactory.shopfloor.records import StoredEvent


class ReplanHandler:
    kinds = frozenset({"state"})

    def __init__(self, factory: Factory) -> None:
        self.machines = factory.machine_map

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        return None

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        return None

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        e = stored.event
        assert isinstance(e, StateChanged)
        reason = e.reason or ""
        machine = self.machines.get(e.machine)
        if machine is None:
            return
        if reason.startswith("breakdown"):
            back = e.ts + timedelta(hours=machine.mttr_hours)
            tx.plans.add_downtime(e.machine, e.ts, back, reason)
            tx.replans.request(e.ts, "breakdown", f"{e.machine} {reason}")
        elif reason == "repaired":
            tx.plans.end_downtime(e.machine, e.ts)
            tx.replans.request(e.ts, "repair", f"{e.machine} repaired")
        else:
            return
        out.downtimes_changed = True
        out.replans_requested += 1
