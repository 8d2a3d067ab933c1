"""The Gantt's drag and drop: a planner drops an operation's bar on another machine row or
time, the page posts here, the operation is pinned there and the plan is made again around
it (`PUT /api/v1/plans/pins/{operation}`: the same service call, role check, CSRF check and
audit record); `POST /schedule/unpin` takes a pin back. The bar's time is the site's wall
time as the chart shows it; it becomes UTC here. Answers JSON for the page's script."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import Allow, context
from microfactory.api.problems import status_for
from microfactory.core.errors import MicrofactoryError, ValidationError
from microfactory.core.timeutil import zone

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
Planner = Annotated[User, Depends(Allow(Permission.PLANS_WRITE))]


def _local_start(text: str, timezone: str) -> datetime | None:
    """'YYYY-MM-DDTHH:MM' (or with a space) in the site's time zone, as UTC; '' is none."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise ValidationError(
            f"start {text!r} is not a date and time (YYYY-MM-DDTHH:MM)", where="start_local"
        ) from None
    if naive.tzinfo is not None:
        return naive.replace(second=0, microsecond=0)
    return naive.replace(second=0, microsecond=0, tzinfo=zone(timezone))


@router.post("/schedule/pin")
async def pin_from_gantt(
    request: Request,
    ctx: Ctx,
    user: Planner,
    operation: Annotated[str, Form(min_length=1, max_length=80)],
    machine: Annotated[str, Form(min_length=1, max_length=64)],
    start_local: Annotated[str, Form(max_length=40)] = "",
) -> JSONResponse:
    from microfactory.api.routes.pins import PinIn, pin

    try:
        start = _local_start(start_local, ctx.timezone)
        body = PinIn(machine=machine, start=start)
        summary = await run_in_threadpool(pin, operation, body, request, user, ctx)
    except MicrofactoryError as exc:
        return _refused(exc)
    return JSONResponse({"version": summary.version, "reason": summary.reason})


def _refused(exc: MicrofactoryError) -> JSONResponse:
    """The page's script shows `detail` next to the chart (the page stays as it was)."""
    status, title = status_for(exc)
    detail = exc.reason if isinstance(exc, ValidationError) else str(exc)
    return JSONResponse({"title": title, "detail": detail}, status_code=status)


@router.post("/schedule/unpin")
async def unpin_from_gantt(
    request: Request,
    ctx: Ctx,
    user: Planner,
    operation: Annotated[str, Form(min_length=1, max_length=80)],
) -> JSONResponse:
    from microfactory.api.routes.pins import unpin

    try:
        summary = await run_in_threadpool(unpin, operation, request, user, ctx)
    except MicrofactoryError as exc:
        return _refused(exc)
    return JSONResponse({"version": summary.version, "reason": summary.reason})
