"""Alerts on the dashboard: quality alerts (SPC rule violations, parts out of
specification), open unplanned maintenance (breakdowns, predicted failures) and shop-floor
events the reactor could not apply, each
acknowledgeable once by someone allowed to (who and when are kept)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, NotFound
from microfactory.services.ports import QualityStore, UnitOfWorkFactory
from microfactory.services.quality import list_alerts


@dataclass(frozen=True)
class Alert:
    id: str
    source: str
    kind: str
    machine: str
    subject: str
    message: str
    at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.acknowledged_by is None


class AckStore(Protocol):
    def acknowledge(self, alert_id: str, source: str, by: str, at: datetime, note: str) -> bool:
        """False when acknowledged already."""
        ...

    def acks(self) -> dict[str, tuple[str, datetime]]: ...


AlertSource = Callable[[], list[Alert]]


class AlertService:
    """Merges alert sources (registered by the composition root) with acknowledgements."""

    def __init__(self, acks: AckStore, clock: Clock, sources: list[AlertSource] | None = None):
        self.acks = acks
        self.clock = clock
        self.sources: list[AlertSource] = list(sources or [])

    def alerts(self, *, open_only: bool = False, limit: int = 200) -> list[Alert]:
        """Newest first."""
        acked = self.acks.acks()
        found: list[Alert] = []
        for source in self.sources:
            for a in source():
                ack = acked.get(a.id)
                if ack is not None:
                    a = Alert(
                        **{**a.__dict__, "acknowledged_by": ack[0], "acknowledged_at": ack[1]}
                    )
                if not open_only or a.open:
                    found.append(a)
        found.sort(key=lambda a: (a.at, a.id), reverse=True)
        return found[:limit]

    def open_count(self) -> int:
        return len(self.alerts(open_only=True, limit=1_000_000))

    def acknowledge(self, alert_id: str, by: str, note: str = "") -> Alert:
        match = next((a for a in self.alerts(limit=1_000_000) if a.id == alert_id), None)
        if match is None:
            raise NotFound(f"alert {alert_id} does not exist")
        if not self.acks.acknowledge(alert_id, match.source, by, self.clock.now(), note[:500]):
            raise Conflict(f"alert {alert_id} was acknowledged already")
        return Alert(
            **{**match.__dict__, "acknowledged_by": by, "acknowledged_at": self.clock.now()}
        )


def quality_alert_source(store: QualityStore) -> AlertSource:
    def alerts() -> list[Alert]:
        return [
            Alert(
                id=a.id,
                source="quality",
                kind=a.kind.value,
                machine=a.machine,
                subject=f"{a.product} / {a.characteristic}"
                + (f" / lot {a.lot_id}" if a.lot_id else ""),
                message=a.message,
                at=a.at,
            )
            for a in list_alerts(store, limit=1_000_000)
        ]

    return alerts


def maintenance_alert_source(orders: Callable[[], list[dict[str, Any]]]) -> AlertSource:
    """Unplanned maintenance (corrective after a breakdown, predictive from a forecast)."""

    def alerts() -> list[Alert]:
        return [
            Alert(
                id=str(r["id"]),
                source="maintenance",
                kind=str(r["kind"]),
                machine=str(r["machine"]),
                subject=f"{r['kind']} maintenance on {r['machine']}",
                message=str(r.get("reason") or r["kind"]),
                at=r["created"],
            )
            for r in orders()
            if r["kind"] in ("corrective", "predictive")
        ]

    return alerts


def rejection_alert_source(uow: UnitOfWorkFactory, limit: int = 200) -> AlertSource:
    """Events from the shop floor that could not be applied (the reactor kept them with the
    reason): someone has to look — a machine reporting an unknown job, a finish recorded
    twice."""

    def alerts() -> list[Alert]:
        with uow() as tx:
            rows = tx.reactor.rejections(limit=limit)
        return [
            Alert(
                id=f"EV-{r.event_id}",
                source="events",
                kind=f"{r.kind} not applied",
                machine=r.machine,
                subject=f"{r.kind} event from {r.machine}",
                message=r.reason,
                at=r.ts,
            )
            for r in rows
        ]

    return alerts
