"""A planner's pins over HTTP: `PUT /api/v1/plans/pins/{operation}` pins an operation to a
machine (and a start) and re-plans around it, `DELETE` unpins, `GET /api/v1/plans/pins`
lists them. Thin: parse, call the planning service, render; audited by the middleware."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from microfactory.access import User
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_PLANS, ALLOW_READ, context, note_detail
from microfactory.core.errors import Conflict
from microfactory.core.timeutil import utc
from microfactory.services.planning import PlanVersion

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    machine: Annotated[str, Field(min_length=1, max_length=64)]
    start: datetime | None = None
    time_limit_s: Annotated[float, Field(gt=0, le=60)] = 5.0


class PinPublic(BaseModel):
    operation: str
    machine: str
    start: datetime | None
    by: str
    at: datetime


def _summary(plan: PlanVersion) -> s.PlanSummary:
    return s.PlanSummary(**{k: getattr(plan, k) for k in s.PlanSummary.model_fields})


@router.get(
    "/plans/pins", response_model=list[PinPublic], tags=["plans"], summary="Pinned operations"
)
def list_pins(_: Annotated[User, Depends(ALLOW_READ)], ctx: Ctx) -> list[PinPublic]:
    return [
        PinPublic(operation=p.operation, machine=p.machine, start=p.start, by=p.by, at=p.at)
        for p in ctx.planning.pins()
    ]


@router.put(
    "/plans/pins/{operation}",
    response_model=s.PlanSummary,
    tags=["plans"],
    summary="Pin an operation to a machine (and a start) and re-plan around it",
)
def pin(
    operation: str,
    body: PinIn,
    request: Request,
    user: Annotated[User, Depends(ALLOW_PLANS)],
    ctx: Ctx,
) -> s.PlanSummary:
    start = utc(body.start) if body.start is not None else None
    lock: threading.Lock = ctx.replan_lock
    if not lock.acquire(blocking=False):
        raise Conflict("a replan is already running; try again when it has finished")
    try:
        plan = ctx.planning.pin(
            operation, body.machine, start, by=user.username, time_limit=body.time_limit_s
        )
    finally:
        lock.release()
    ctx.dashboard.invalidate()
    where = body.machine if start is None else f"{body.machine} at {start.isoformat()}"
    note_detail(request, f"pin {operation} to {where}: plan version {plan.version}")
    return _summary(plan)


@router.delete(
    "/plans/pins/{operation}",
    response_model=s.PlanSummary,
    tags=["plans"],
    summary="Unpin an operation and re-plan",
)
def unpin(
    operation: str,
    request: Request,
    user: Annotated[User, Depends(ALLOW_PLANS)],
    ctx: Ctx,
) -> s.PlanSummary:
    lock: threading.Lock = ctx.replan_lock
    if not lock.acquire(blocking=False):
        raise Conflict("a replan is already running; try again when it has finished")
    try:
        plan = ctx.planning.unpin(operation, by=user.username)
    finally:
        lock.release()
    ctx.dashboard.invalidate()
    note_detail(request, f"unpin {operation}: plan version {plan.version}")
    return _summary(plan)
