"""Machine state history, downsampled telemetry, raw events, OEE; plan versions and the
replan action; maintenance work orders. Mounted only when those areas are installed."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from microfactory.access import User
from microfactory.api import convert
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import (
    ALLOW_PLANS,
    ALLOW_READ,
    ALLOW_SHOPFLOOR,
    context,
    note_detail,
)
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.core.timeutil import utc
from microfactory.services.dashboard_views import MachineViews, gantt_from_plan, require_machine
from microfactory.services.planning import EventKind, PlanningService, ReplanEvent
from microfactory.services.planning_people import plan_crew_parts
from microfactory.services.stations import StationAction, StationService

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
Start = Annotated[datetime | None, Query(description="RFC 3339; default: end − 24 h")]
End = Annotated[datetime | None, Query(description="RFC 3339; default: now")]
MAX_SPAN = timedelta(days=92)


def views(ctx: Ctx) -> MachineViews:
    return ctx.machine_views


Views = Annotated[MachineViews, Depends(views)]


def window(
    ctx: ApiContext, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    try:
        stop = utc(end) if end else ctx.clock.now()
        begin = utc(start) if start else stop - timedelta(hours=24)
    except ValidationError as exc:
        raise ValidationError(exc.reason, where="start/end") from None
    if stop <= begin:
        raise ValidationError("end must be after start", where="end")
    if stop - begin > MAX_SPAN:
        raise ValidationError("a window may span at most 92 days", where="start")
    return begin, stop


@router.get(
    "/machines/{machine_id}/states",
    response_model=list[s.StateSegmentPublic],
    tags=["machines"],
    summary="State history (OPC 40001-1 states) over a window",
)
def machine_states(
    machine_id: str, user: Reader, ctx: Ctx, v: Views, start: Start = None, end: End = None
) -> list[s.StateSegmentPublic]:
    require_machine(ctx.uow, machine_id)
    begin, stop = window(ctx, start, end)
    return [
        s.StateSegmentPublic(start=g.start, end=g.end, state=g.state, mode=g.mode, reason=g.reason)
        for g in v.state_timeline(machine_id, begin, stop)
    ]


@router.get(
    "/machines/{machine_id}/signals",
    response_model=list[str],
    tags=["machines"],
    summary="Sensor signals this machine reports",
)
def machine_signals(machine_id: str, user: Reader, ctx: Ctx, v: Views) -> list[str]:
    require_machine(ctx.uow, machine_id)
    return v.signals(machine_id)


@router.get(
    "/machines/{machine_id}/telemetry/{signal}",
    response_model=s.SeriesPublic,
    tags=["machines"],
    summary="A sensor signal downsampled to at most `points` buckets (min/max/mean)",
)
def machine_telemetry(
    machine_id: str,
    signal: str,
    user: Reader,
    ctx: Ctx,
    v: Views,
    start: Start = None,
    end: End = None,
    points: Annotated[int, Query(ge=1, le=2000)] = 300,
) -> s.SeriesPublic:
    require_machine(ctx.uow, machine_id)
    begin, stop = window(ctx, start, end)
    series = v.series(machine_id, signal, begin, stop, points)
    return s.SeriesPublic(
        machine=machine_id,
        signal=signal,
        start=begin,
        end=stop,
        points=[
            s.SeriesPointPublic(at=p.at, count=p.count, min=p.min, max=p.max, mean=p.mean)
            for p in series
        ],
    )


@router.get("/events", response_model=list[s.EventPublic], tags=["events"], summary="Events")
def events(
    user: Reader,
    ctx: Ctx,
    v: Views,
    machine: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(pattern="^(state|counter|job|measurement)$")] = None,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[s.EventPublic]:
    begin, stop = window(ctx, start, end)
    found = v.telemetry.events(machine=machine, kind=kind, start=begin, end=stop, limit=limit)
    out: list[s.EventPublic] = []
    for e in found:
        body: dict[str, Any] = json.loads(e.model_dump_json())
        out.append(
            s.EventPublic(
                event_id=e.event_id, machine=e.machine, kind=e.kind, seq=e.seq, ts=e.ts, body=body
            )
        )
    return out


@router.get("/oee", response_model=s.OeePublic, tags=["machines"], summary="OEE per machine")
def oee(user: Reader, ctx: Ctx, v: Views, start: Start = None, end: End = None) -> s.OeePublic:
    """ISO 22400 OEE (availability × effectiveness × quality ratio) over the window
    (default: since midnight UTC)."""
    stop = utc(end) if end else ctx.clock.now()
    default_start = stop.replace(hour=0, minute=0, second=0, microsecond=0)
    begin, stop = window(ctx, start or default_start, stop)
    figures = v.oee(begin, stop)
    mean = sum(figures.values()) / len(figures) if figures else None
    return s.OeePublic(start=begin, end=stop, machines=figures, mean=mean)


@router.get(
    "/maintenance/work-orders",
    response_model=s.Page[s.MaintenanceOrderPublic],
    tags=["maintenance"],
    summary="Maintenance work orders (preventive, predictive, breakdown)",
)
def maintenance_orders(
    user: Reader,
    v: Views,
    status: Annotated[str | None, Query(max_length=16)] = None,
    machine: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[s.MaintenanceOrderPublic]:
    rows = [r for r in v.maintenance_orders(status) if machine is None or r["machine"] == machine]
    rows.sort(key=lambda r: r["created"], reverse=True)
    items = [
        s.MaintenanceOrderPublic(**{k: r.get(k) for k in s.MaintenanceOrderPublic.model_fields})
        for r in rows[offset : offset + limit]
    ]
    return s.Page[s.MaintenanceOrderPublic](
        items=items, total=len(rows), limit=limit, offset=offset
    )


# plans -----------------------------------------------------------------------------------
def planning(ctx: Ctx) -> PlanningService:
    return ctx.planning


def plan_public(plan: Any, ctx: ApiContext) -> s.PlanPublic:
    g = gantt_from_plan(plan)
    _, parts = plan_crew_parts(ctx.uow, plan)
    operators = {op.operation: op.operator for op in plan.operations}
    return s.PlanPublic(
        version=plan.version,
        current=plan.current,
        created_at=plan.created_at,
        status=plan.status,
        solver=plan.solver,
        seconds=plan.seconds,
        reason=plan.reason,
        weighted_tardiness=plan.weighted_tardiness,
        moved=plan.moved,
        late_work_orders=g.late_work_orders,
        operations=[
            s.PlannedOperationPublic(
                operation=b.operation,
                work_order=b.work_order,
                machine=b.machine,
                start=b.start,
                end=b.end,
                due=b.due,
                late=b.late,
                operator=operators.get(b.operation),
                crew=[
                    s.CrewPartPublic(
                        operator=p.operator, part=p.part, start=p.start, end=p.end, share=p.share
                    )
                    for p in parts.get(b.operation, ())
                ],
            )
            for b in g.bars
        ],
    )


@router.get("/plans", response_model=list[s.PlanSummary], tags=["plans"], summary="Versions")
def plan_versions(user: Reader, ctx: Ctx) -> list[s.PlanSummary]:
    service = planning(ctx)
    return [
        s.PlanSummary(**{k: h[k] for k in s.PlanSummary.model_fields}) for h in service.versions()
    ]


@router.get("/plans/current", response_model=s.PlanPublic, tags=["plans"], summary="Current")
def current_plan(user: Reader, ctx: Ctx) -> s.PlanPublic:
    plan = planning(ctx).current()
    if plan is None:
        raise NotFound("no plan yet: POST /api/v1/plans/replan makes one")
    return plan_public(plan, ctx)


@router.get(
    "/plans/downtimes",
    response_model=list[s.DowntimePublic],
    tags=["plans"],
    summary="Stored machine downtimes and maintenance windows that end after `since`",
)
def plan_downtimes(
    user: Reader,
    ctx: Ctx,
    since: Annotated[datetime | None, Query(description="RFC 3339; default: now")] = None,
) -> list[s.DowntimePublic]:
    service = planning(ctx)
    after = utc(since) if since else service.clock.now()
    return [
        s.DowntimePublic(machine=m, start=start, end=end, reason=reason)
        for m, spans in sorted(service.downtimes(since=after).items())
        for start, end, reason in spans
    ]


@router.get("/plans/{version}", response_model=s.PlanPublic, tags=["plans"], summary="A version")
def plan_version(version: int, user: Reader, ctx: Ctx) -> s.PlanPublic:
    return plan_public(planning(ctx).version(version), ctx)


@router.post(
    "/plans/replan",
    response_model=s.PlanSummary,
    status_code=201,
    tags=["plans"],
    summary="Plan every open work order again; stores a new plan version",
)
def replan(
    body: s.ReplanIn, request: Request, user: Annotated[User, Depends(ALLOW_PLANS)], ctx: Ctx
) -> s.PlanSummary:
    service = planning(ctx)
    lock: threading.Lock = ctx.replan_lock
    if not lock.acquire(blocking=False):
        raise Conflict("a replan is already running; try again when it has finished")
    try:
        plan = service.plan(
            f"{body.reason} (by {user.username})",
            release_confirmed=False,
            time_limit=body.time_limit_s,
        )
    finally:
        lock.release()
    ctx.dashboard.invalidate()
    note_detail(request, f"plan version {plan.version}")
    return s.PlanSummary(**{k: getattr(plan, k) for k in s.PlanSummary.model_fields})


@router.post(
    "/plans/events",
    response_model=s.PlanSummary,
    status_code=201,
    tags=["plans"],
    summary="Tell the planner a machine broke down / is back, a maintenance window, a rush "
    "order or a quality hold; stores it and re-plans",
)
def plan_event(
    body: s.PlanEventIn, request: Request, user: Annotated[User, Depends(ALLOW_PLANS)], ctx: Ctx
) -> s.PlanSummary:
    service = planning(ctx)
    at = utc(body.at) if body.at else service.clock.now().replace(second=0, microsecond=0)
    try:
        event = ReplanEvent(
            EventKind(body.kind),
            at=at,
            machine=body.machine,
            until=utc(body.until) if body.until else None,
            order=body.order,
            work_order=body.work_order,
            reason=body.reason or f"by {user.username}",
        )
    except ValueError as exc:
        raise ValidationError(str(exc), where=body.kind) from None
    lock: threading.Lock = ctx.replan_lock
    if not lock.acquire(blocking=False):
        raise Conflict("a replan is already running; try again when it has finished")
    try:
        plan = service.replan(event, time_limit=body.time_limit_s)
    finally:
        lock.release()
    ctx.dashboard.invalidate()
    note_detail(request, f"{body.kind}: plan version {plan.version}")
    return s.PlanSummary(**{k: getattr(plan, k) for k in s.PlanSummary.model_fields})


# operations: people on the event path ------------------------------------------------------


def stations(ctx: Ctx) -> StationService:
    if ctx.stations is None:
        raise NotFound("no factory is loaded yet (microfactory init)")
    return ctx.stations


def _record(
    ctx: ApiContext,
    request: Request,
    response: Response,
    user: User,
    operation_id: str,
    action: str,
    body: Any,
) -> s.OperationPublic:
    service = stations(ctx)
    recorded = service.record_job(
        StationAction(
            operation_id,
            action,  # type: ignore[arg-type]
            user.username,
            body.machine,
            getattr(body, "good", 0),
            getattr(body, "scrap", 0),
        )
    )
    op = recorded.operation
    ctx.dashboard.expire()  # a shop-floor action: the pages refresh within 3 s
    if not recorded.applied:  # stored; the applier is behind: applied with its next batch
        response.status_code = 202
        note_detail(request, f"{operation_id} {action} stored, pending")
    else:
        note_detail(request, f"{operation_id} {action} on {op.machine}")
    return convert.operation(op)


PENDING = {
    202: {
        "description": "Stored but not applied yet (the applier is behind): the operation "
        "as it stood; the action is applied with the next batch, a refusal shows as an alert",
        "model": s.OperationPublic,
    }
}


Operator = Annotated[User, Depends(ALLOW_SHOPFLOOR)]


@router.post(
    "/operations/{operation_id}/start",
    response_model=s.OperationPublic,
    tags=["operations"],
    responses=PENDING,  # type: ignore[arg-type]
    summary="An operation started at a station (recorded as a job event; 409 with the reason "
    "when it cannot be applied)",
)
def operation_start(
    operation_id: str,
    body: s.OperationStartIn,
    request: Request,
    response: Response,
    user: Operator,
    ctx: Ctx,
) -> s.OperationPublic:
    return _record(ctx, request, response, user, operation_id, "started", body)


@router.post(
    "/operations/{operation_id}/finish",
    response_model=s.OperationPublic,
    tags=["operations"],
    responses=PENDING,  # type: ignore[arg-type]
    summary="An operation finished with its good and scrapped parts (a job event)",
)
def operation_finish(
    operation_id: str,
    body: s.OperationFinishIn,
    request: Request,
    response: Response,
    user: Operator,
    ctx: Ctx,
) -> s.OperationPublic:
    return _record(ctx, request, response, user, operation_id, "finished", body)
