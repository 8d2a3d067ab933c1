"""Alerts on the dashboard: quality alerts (SPC rule violations, parts out of
specification), open unplanned maintenance (breakdowns, predicted failures), stock alerts
(low stock, expiry, discrepancies) and shop-floor events the reactor could not apply, each
acknowledgeable once by someone allowed to (who and when are kept).

Alerts read in plain words (`core.vocabulary`): a summary a shop owner understands, and the
codes and numbers behind it in `details`. One event is one alert: the SPC rules that fire on
the same point (nelson-1, -5 and -6 together, on the individuals and the moving-range chart)
are one alert, whose id is the first stored alert's (so acknowledging it is unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from microfactory.core import vocabulary as words
from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, NotFound
from microfactory.quality.records import AlertKind, QualityAlert
from microfactory.services.ports import AckStore, QualityStore, UnitOfWorkFactory
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
    details: str = ""
    """The codes and numbers behind the plain `message` (rule ids, values, model output)."""

    @property
    def what(self) -> str:
        """The alert's kind in words ("process drifting", "wear expected")."""
        return words.alert_kind(self.kind)

    @property
    def open(self) -> bool:
        return self.acknowledged_by is None


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
        return group_quality_alerts(list_alerts(store, limit=1_000_000))

    return alerts


def event_key(a: QualityAlert) -> tuple[object, ...]:
    """What makes quality alerts one event: the same point of the same characteristic (an
    out-of-specification part is its own event)."""
    if a.kind != AlertKind.RULE_VIOLATION:
        return ("alert", a.id)
    return ("spc", a.product, a.characteristic, a.point_index, a.at, a.lot_id)


def group_quality_alerts(found: list[QualityAlert]) -> list[Alert]:
    """One dashboard alert per event, in plain words, the rules and numbers in details."""
    groups: dict[tuple[object, ...], list[QualityAlert]] = {}
    for a in found:
        groups.setdefault(event_key(a), []).append(a)
    out: list[Alert] = []
    for members in groups.values():
        members.sort(key=lambda a: a.id)
        first = members[0]
        subject = f"{words.humanize(first.characteristic)} of {first.product}" + (
            f", lot {first.lot_id}" if first.lot_id else ""
        )
        if first.kind == AlertKind.RULE_VIOLATION:
            rules = [a.rule for a in members if a.rule]
            message = words.spc_summary(first.characteristic, _by_rule_order(rules))
            charts = sorted({a.series for a in members if a.series})
            details = (
                f"{', '.join(_by_rule_order(rules))} on the {' and '.join(charts)} chart"
                f"{'s' if len(charts) > 1 else ''} at subgroup {first.point_index}; "
                f"value {first.value:g}"
                + ("; lot put on hold" if any(a.lot_held for a in members) else "")
            )
        else:
            message = (
                f"{words.humanize(first.characteristic)} measured {first.value:g}, outside "
                "the tolerance" + (f"; nonconformance {first.ncr} opened" if first.ncr else "")
            )
            details = first.message
        out.append(
            Alert(
                id=first.id,
                source="quality",
                kind=first.kind.value,
                machine=first.machine,
                subject=subject,
                message=message,
                at=first.at,
                details=details,
            )
        )
    return out


def _by_rule_order(rules: list[str]) -> list[str]:
    order = {rule: k for k, rule in enumerate(words.SPC_RULES)}
    return sorted(dict.fromkeys(rules), key=lambda r: order.get(r, len(order)))


def maintenance_alert_source(orders: Callable[[], list[dict[str, Any]]]) -> AlertSource:
    """Unplanned maintenance (corrective after a breakdown, predictive from a forecast)."""

    def alerts() -> list[Alert]:
        return [
            Alert(
                id=str(r["id"]),
                source="maintenance",
                kind=str(r["kind"]),
                machine=str(r["machine"]),
                subject=f"{words.alert_kind(str(r['kind']))} on {r['machine']}",
                message=_maintenance_message(str(r["kind"]), str(r["machine"]), r.get("reason")),
                at=r["created"],
                details=str(r.get("reason") or ""),
            )
            for r in orders()
            if r["kind"] in ("corrective", "predictive")
        ]

    return alerts


def _maintenance_message(kind: str, machine: str, reason: object) -> str:
    text = str(reason or "")
    if kind == "predictive":
        return words.predictive_summary(machine, text)
    return words.breakdown_summary(machine, text)


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
                subject=f"a {r.kind} message from {r.machine}",
                message=r.reason,  # the reactor's reason is already in words
                at=r.ts,
                details="the event was kept and not applied; someone has to look",
            )
            for r in rows
        ]

    return alerts


def stock_alert_source(uow: UnitOfWorkFactory) -> AlertSource:
    """Low stock, lots about to expire and issues beyond stock (discrepancies)."""

    def alerts() -> list[Alert]:
        with uow() as tx:
            found = tx.stock.alerts(limit=1000)
        return [
            Alert(
                id=a.id,
                source="materials",
                kind=a.kind,
                machine="",
                subject=f"{a.material}" + (f" / lot {a.lot}" if a.lot else ""),
                message=a.message,
                at=a.at,
            )
            for a in found
        ]

    return alerts
