"""Records of the event path as the rest of the shop sees them: a committed event with its
position in the store (the reactor's cursor moves over these positions), an event the reactor
could not apply, the reactor's progress, a request to plan again, and a machine's usage
under a PM plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from microfactory.shopfloor.events import Event


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A committed event. `position` is its place in commit order (the event store's row
    id); `event` is the validated model, or None for a sensor sample batch (its samples are
    read from the sample tables, not re-parsed here)."""

    position: int
    event_id: str
    machine: str
    kind: str
    seq: int
    ts: datetime
    event: Event | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A stored event that could not be applied to the shop's state, and why."""

    position: int
    event_id: str
    machine: str
    kind: str
    ts: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ReactorProgress:
    """Where a reactor stands: the last position applied, and how many it applied and
    rejected so far."""

    position: int
    applied: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ReplanRequest:
    id: int
    at: datetime
    trigger: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlanUsage:
    """Usage of a machine under one PM plan since the plan was last renewed."""

    plan: str
    run_hours: float
    cycles: int
    since: datetime
