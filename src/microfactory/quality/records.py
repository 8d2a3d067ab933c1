"""Quality records: measurements, alerts, nonconformance reports (NCR) with disposition and
CAPA, and lot holds. Validated, immutable dataclasses; each state change returns a new one.

NCR lifecycle: ``open`` → ``dispositioned`` (scrap, rework or use-as-is, by someone) →
``closed`` (needs a root cause and a corrective action: the CAPA). A lot hold is active until
released; release is refused while an NCR on the lot is still open (see the service).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from microfactory.core.errors import Conflict, ValidationError


def _aware(value: datetime | None, what: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValidationError(f"{what} must be timezone-aware")


@dataclass(frozen=True)
class MeasurementRecord:
    """One measured value of a product characteristic, in arrival order."""

    product: str
    characteristic: str
    value: float
    ts: datetime
    event_id: str
    unit: str = ""
    machine: str = ""
    part_id: str | None = None
    lot_id: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValidationError("measurement value must be finite")
        if not self.event_id:
            raise ValidationError("measurement needs an event id")
        _aware(self.ts, "measurement time")


class AlertKind(StrEnum):
    RULE_VIOLATION = "rule_violation"
    OUT_OF_SPEC = "out_of_spec"


@dataclass(frozen=True)
class QualityAlert:
    """A signal from SPC (``rule`` set, e.g. ``nelson-2`` on series ``i``) or a part outside
    its specification. ``lot_held`` says whether this alert put the lot on hold;
    ``ncr`` names the nonconformance it opened."""

    id: str
    kind: AlertKind
    product: str
    characteristic: str
    value: float
    at: datetime
    message: str
    rule: str | None = None
    series: str | None = None
    point_index: int | None = None
    machine: str = ""
    part_id: str | None = None
    lot_id: str | None = None
    lot_held: bool = False
    ncr: str | None = None

    def __post_init__(self) -> None:
        _aware(self.at, "alert time")
        if self.kind == AlertKind.RULE_VIOLATION and not self.rule:
            raise ValidationError("a rule-violation alert names its rule")


class Disposition(StrEnum):
    SCRAP = "scrap"
    REWORK = "rework"
    USE_AS_IS = "use-as-is"
    RETURN = "return"
    """Back to the supplier (a bought-in part or material lot)."""


class NcrStatus(StrEnum):
    OPEN = "open"
    DISPOSITIONED = "dispositioned"
    CLOSED = "closed"


@dataclass(frozen=True)
class Nonconformance:
    """A nonconformance report for a part (or lot) outside its specification."""

    id: str
    product: str
    characteristic: str
    value: float
    lsl: float | None
    usl: float | None
    opened: datetime
    part_id: str | None = None
    lot_id: str | None = None
    machine: str = ""
    description: str = ""
    status: NcrStatus = NcrStatus.OPEN
    disposition: Disposition | None = None
    disposition_by: str = ""
    disposition_at: datetime | None = None
    disposition_note: str = ""
    root_cause: str = ""
    corrective_action: str = ""
    preventive_action: str = ""
    capa_owner: str = ""
    capa_due: datetime | None = None
    closed: datetime | None = None

    def __post_init__(self) -> None:
        for what, value in (
            ("opened", self.opened),
            ("disposition time", self.disposition_at),
            ("CAPA due date", self.capa_due),
            ("closed", self.closed),
        ):
            _aware(value, what)
        if self.status != NcrStatus.OPEN and self.disposition is None:
            raise ValidationError("a dispositioned or closed NCR needs a disposition")

    def dispose(
        self, disposition: Disposition, by: str, at: datetime, note: str = ""
    ) -> Nonconformance:
        """Decide what happens to the part: scrap, rework or use-as-is."""
        if self.status != NcrStatus.OPEN:
            raise Conflict(
                f"NCR {self.id} is {self.status.value}; only an open NCR is dispositioned"
            )
        if not by.strip():
            raise ValidationError("a disposition needs the name of who decided it")
        if disposition == Disposition.USE_AS_IS and not note.strip():
            raise ValidationError("use-as-is needs a justification note (a concession)")
        return replace(
            self,
            status=NcrStatus.DISPOSITIONED,
            disposition=Disposition(disposition),
            disposition_by=by.strip(),
            disposition_at=at,
            disposition_note=note,
        )

    def with_capa(
        self,
        *,
        root_cause: str | None = None,
        corrective_action: str | None = None,
        preventive_action: str | None = None,
        owner: str | None = None,
        due: datetime | None = None,
    ) -> Nonconformance:
        """Record the corrective and preventive action (CAPA) fields given."""
        if self.status == NcrStatus.CLOSED:
            raise Conflict(f"NCR {self.id} is closed")
        return replace(
            self,
            root_cause=self.root_cause if root_cause is None else root_cause,
            corrective_action=(
                self.corrective_action if corrective_action is None else corrective_action
            ),
            preventive_action=(
                self.preventive_action if preventive_action is None else preventive_action
            ),
            capa_owner=self.capa_owner if owner is None else owner,
            capa_due=self.capa_due if due is None else due,
        )

    def close(self, at: datetime) -> Nonconformance:
        """Close after disposition, once a root cause and a corrective action are recorded."""
        if self.status != NcrStatus.DISPOSITIONED:
            raise Conflict(f"NCR {self.id} is {self.status.value}; disposition it before closing")
        if not self.root_cause.strip() or not self.corrective_action.strip():
            raise ValidationError("closing an NCR needs a root cause and a corrective action")
        return replace(self, status=NcrStatus.CLOSED, closed=at)


@dataclass(frozen=True)
class LotHold:
    """A production lot on hold: later operations of the lot must not run until release."""

    lot: str
    reason: str
    held_at: datetime
    ncr: str | None = None
    released_at: datetime | None = None
    released_by: str = ""
    release_note: str = ""

    def __post_init__(self) -> None:
        if not self.lot:
            raise ValidationError("a hold needs a lot id")
        _aware(self.held_at, "hold time")
        _aware(self.released_at, "release time")

    @property
    def active(self) -> bool:
        return self.released_at is None

    def release(self, by: str, at: datetime, note: str = "") -> LotHold:
        if not self.active:
            raise Conflict(f"lot {self.lot} is not on hold")
        if not by.strip():
            raise ValidationError("a release needs the name of who released it")
        return replace(self, released_at=at, released_by=by.strip(), release_note=note)
