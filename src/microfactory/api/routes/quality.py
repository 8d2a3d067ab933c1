"""Alerts (quality and unplanned maintenance) with acknowledgement; quality NCRs and lot
holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from microfactory.access import User
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_ACK, ALLOW_QUALITY, ALLOW_READ, context, note_detail
from microfactory.services.alerts import Alert, AlertService
from microfactory.services.genealogy import trace
from microfactory.services.ports import QualityStore
from microfactory.services.quality import (
    disposition_ncr,
    hold_from_row,
    list_ncrs,
    release_hold,
)

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]


class AlertPublic(BaseModel):
    id: str
    source: str
    kind: str
    machine: str
    subject: str
    message: str
    at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    details: str = ""


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(max_length=500)] = ""


class NcrPublic(BaseModel):
    id: str
    product: str
    characteristic: str
    value: float
    lsl: float | None
    usl: float | None
    opened: datetime
    lot_id: str | None
    machine: str
    status: str
    disposition: str | None


class HoldPublic(BaseModel):
    lot: str
    reason: str
    held_at: datetime
    ncr: str | None
    released_at: datetime | None
    released_by: str


def alert_service(ctx: Ctx) -> AlertService:
    service: AlertService = ctx.alerts
    return service


def quality_store(ctx: Ctx) -> QualityStore:
    return ctx.quality


def alert_public(a: Alert) -> AlertPublic:
    return AlertPublic(**{k: getattr(a, k) for k in AlertPublic.model_fields})


@router.get("/alerts", response_model=s.Page[AlertPublic], tags=["alerts"], summary="Alerts")
def alerts(
    user: Reader,
    service: Annotated[AlertService, Depends(alert_service)],
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> s.Page[AlertPublic]:
    found = service.alerts(open_only=open_only, limit=offset + limit)
    total = len(service.alerts(open_only=open_only, limit=1_000_000))
    return s.Page[AlertPublic](
        items=[alert_public(a) for a in found[offset:]], total=total, limit=limit, offset=offset
    )


@router.post(
    "/alerts/{alert_id}/ack", response_model=AlertPublic, tags=["alerts"], summary="Acknowledge"
)
def acknowledge(
    alert_id: str,
    body: AckIn,
    request: Request,
    user: Annotated[User, Depends(ALLOW_ACK)],
    service: Annotated[AlertService, Depends(alert_service)],
    ctx: Ctx,
) -> AlertPublic:
    note_detail(request, f"alert {alert_id}")
    acked = service.acknowledge(alert_id, user.username, body.note)
    ctx.dashboard.invalidate()
    return alert_public(acked)


@router.get(
    "/quality/ncrs", response_model=list[NcrPublic], tags=["quality"], summary="Nonconformances"
)
def ncrs(
    user: Reader,
    store: Annotated[QualityStore, Depends(quality_store)],
    lot: Annotated[str | None, Query(max_length=64)] = None,
) -> list[NcrPublic]:
    return [_ncr_public(n) for n in list_ncrs(store, lot=lot)]


@router.get("/quality/holds", response_model=list[HoldPublic], tags=["quality"], summary="Holds")
def holds(
    user: Reader,
    store: Annotated[QualityStore, Depends(quality_store)],
    active: bool = True,
) -> list[HoldPublic]:
    return [
        HoldPublic(**{k: getattr(h, k) for k in HoldPublic.model_fields})
        for h in (hold_from_row(r) for r in store.holds(active_only=active))
    ]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(max_length=500)] = ""


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: Annotated[str, Field(pattern="^(scrap|rework|use-as-is|return)$")]
    note: Annotated[str, Field(max_length=500)] = ""


def _ncr_public(n: Any) -> NcrPublic:
    values: dict[str, Any] = {k: getattr(n, k) for k in NcrPublic.model_fields}
    values["status"] = str(n.status)
    values["disposition"] = str(n.disposition) if n.disposition else None
    return NcrPublic(**values)


@router.post(
    "/quality/holds/{lot}/release",
    response_model=HoldPublic,
    tags=["quality"],
    summary="Release a lot on hold (refused while an NCR on it is open); planning replans",
)
def release(
    lot: str,
    body: ReleaseIn,
    request: Request,
    user: Annotated[User, Depends(ALLOW_QUALITY)],
    store: Annotated[QualityStore, Depends(quality_store)],
    ctx: Ctx,
) -> HoldPublic:
    note_detail(request, f"lot {lot}")
    h = release_hold(store, ctx.planning, lot, by=user.username, at=ctx.clock.now(), note=body.note)
    return HoldPublic(**{k: getattr(h, k) for k in HoldPublic.model_fields})


@router.post(
    "/quality/ncrs/{ncr_id}/disposition",
    response_model=NcrPublic,
    tags=["quality"],
    summary="Disposition a nonconformance: scrap, rework, use-as-is or return",
)
def disposition(
    ncr_id: str,
    body: DispositionIn,
    request: Request,
    user: Annotated[User, Depends(ALLOW_QUALITY)],
    store: Annotated[QualityStore, Depends(quality_store)],
    ctx: Ctx,
) -> NcrPublic:
    note_detail(request, f"ncr {ncr_id}")
    n = disposition_ncr(
        store, ncr_id, body.disposition, by=user.username, at=ctx.clock.now(), note=body.note
    )
    return _ncr_public(n)


@router.get(
    "/quality/trace/{key}",
    response_model=dict[str, Any],
    tags=["quality"],
    summary="Genealogy: forward from a material lot (to the customers), backward from an "
    "order, a work order, a serial, a part or a lot (to the material lots)",
)
def genealogy(
    key: str,
    user: Reader,
    store: Annotated[QualityStore, Depends(quality_store)],
    ctx: Ctx,
) -> dict[str, Any]:
    with ctx.uow() as tx:
        return trace(tx, store, key)
