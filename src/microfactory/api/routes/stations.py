"""What else an operator records at a station, over the API (the terminal's pages call the
same service): pause and resume a running operation, a machine stopped with a reason and back
up, a measurement. Each is stored as the event a machine would send, with the caller as its
`source`, and applied by the reactor; 409 with the reason when the shop's state refuses it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from microfactory.access import User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_SHOPFLOOR, context, note_detail
from microfactory.core.errors import NotFound
from microfactory.services.stations import DOWNTIME_REASONS, StationService
from microfactory.shopfloor.events import MachineStatus

router = APIRouter(tags=["stations"])
Ctx = Annotated[ApiContext, Depends(context)]
Operator = Annotated[User, Depends(ALLOW_SHOPFLOOR)]
Text64 = Annotated[str, Field(max_length=64, pattern=r"^[^\x00]*$")]


class MachineStatePublic(BaseModel):
    machine: str
    state: str
    mode: str
    reason: str | None


class DowntimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=40, description=", ".join(DOWNTIME_REASONS))]
    note: Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")] = ""


class MeasurementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    characteristic: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
    value: Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
    unit: Annotated[str, Field(max_length=32, pattern=r"^[^\x00]*$")] = ""
    part_id: Text64 | None = None
    lot_id: Text64 | None = None


class EmptyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _service(ctx: ApiContext) -> StationService:
    if ctx.stations is None:
        raise NotFound("no factory is loaded yet (microfactory init)")
    return ctx.stations


def _public(status: MachineStatus) -> MachineStatePublic:
    return MachineStatePublic(
        machine=status.machine,
        state=status.state.value,
        mode=status.mode.value,
        reason=status.reason,
    )


def _done(ctx: ApiContext, request: Request, detail: str, *, at_once: bool = False) -> None:
    """A shop-floor action recorded: the pages refresh within 3 s (`expire`),
    or show it on the next view (`at_once`: a measurement, which whoever took it checks on
    the quality chart)."""
    if at_once:
        ctx.dashboard.invalidate()
    else:
        ctx.dashboard.expire()
    note_detail(request, detail)


@router.post(
    "/operations/{operation_id}/pause",
    response_model=MachineStatePublic,
    summary="A running operation paused on its machine (a state event; it stays running)",
)
def operation_pause(
    operation_id: str, body: EmptyIn, request: Request, user: Operator, ctx: Ctx
) -> MachineStatePublic:
    status = _service(ctx).pause(operation_id, user.username)
    _done(ctx, request, f"{operation_id} paused")
    return _public(status)


@router.post(
    "/operations/{operation_id}/resume",
    response_model=MachineStatePublic,
    summary="A paused operation resumed (a state event)",
)
def operation_resume(
    operation_id: str, body: EmptyIn, request: Request, user: Operator, ctx: Ctx
) -> MachineStatePublic:
    status = _service(ctx).resume(operation_id, user.username)
    _done(ctx, request, f"{operation_id} resumed")
    return _public(status)


@router.post(
    "/machines/{machine_id}/downtime",
    response_model=MachineStatePublic,
    summary="The machine stopped, with a reason (breakdown: the planner replans around it)",
)
def machine_downtime(
    machine_id: str, body: DowntimeIn, request: Request, user: Operator, ctx: Ctx
) -> MachineStatePublic:
    status = _service(ctx).downtime(machine_id, body.reason, user.username, body.note)
    _done(ctx, request, f"{machine_id} down: {body.reason}")
    return _public(status)


@router.post(
    "/machines/{machine_id}/up",
    response_model=MachineStatePublic,
    summary="The stop reported at the station is over (after a breakdown: repaired)",
)
def machine_up(
    machine_id: str, body: EmptyIn, request: Request, user: Operator, ctx: Ctx
) -> MachineStatePublic:
    status = _service(ctx).back_up(machine_id, user.username)
    _done(ctx, request, f"{machine_id} back up")
    return _public(status)


@router.post(
    "/machines/{machine_id}/measurements",
    response_model=dict[str, Any],
    summary="A product characteristic measured at the station (SPC applies it)",
)
def machine_measurement(
    machine_id: str, body: MeasurementIn, request: Request, user: Operator, ctx: Ctx
) -> dict[str, Any]:
    got = _service(ctx).measure(
        machine_id,
        body.characteristic,
        body.value,
        user.username,
        unit=body.unit,
        part_id=body.part_id,
        lot_id=body.lot_id,
    )
    _done(ctx, request, f"{machine_id} {body.characteristic}", at_once=True)
    return got
