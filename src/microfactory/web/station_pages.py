"""Shop-floor pages: the operator terminal (`/stations/{machine}`: the machine's queue in plan
order with what to make and which material lot to take; start, pause, finish with good and
scrap, downtime with a reason, measurements, and for printers plate-clear and spool load;
a scanned work-order or operation id followed by Enter picks the card), the machines index
(`/machines`: state, job, OEE today, PM due, and each printer's live status over Server-Sent
Events), the printers' live tiles on the overview, and closing maintenance work orders
(`/maintenance/{id}`: checklist, parts used, hours).

Every action goes through a service on the one event path (`StationService`,
`MaintenanceWork`) or the print farm's desk (plate and spool are printer records the print
farm owns). Forms carry the session's CSRF token and need the API's permissions:
shopfloor:write for the terminal, maintenance:write to start or close maintenance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import (
    ALLOW_MAINTENANCE,
    ALLOW_SHOPFLOOR,
    CSRF_FIELD,
    context,
    note_detail,
)
from microfactory.api.problems import status_for
from microfactory.core.errors import MicrofactoryError, NotFound, ValidationError
from microfactory.services.maintenance_work import (
    MaintenanceClose,
    MaintenanceWork,
    parse_parts,
    parts_text,
)
from microfactory.services.printfarm_desk import PrinterDesk
from microfactory.services.station_queue import find_operation, station_queue
from microfactory.services.stations import DOWNTIME_REASONS, StationAction, StationService
from microfactory.web.pages import TEMPLATES, PageUser, dash, render, sse_event

router = APIRouter(include_in_schema=False)
terminal = APIRouter(include_in_schema=False)
"""The operator terminal's routes (`/stations...`), included ahead of every other router:
the app matches a request against its routes in order (FastAPI 0.165: 2-3 µs per route,
twice per request), a terminal under fifty operators is the busiest caller, and no other
route's path can match `/stations/...`."""
Ctx = Annotated[ApiContext, Depends(context)]
Operator = Annotated[User, Depends(ALLOW_SHOPFLOOR)]
Technician = Annotated[User, Depends(ALLOW_MAINTENANCE)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=100)]
OPEN_MAINTENANCE = ("open", "planned")


def _stations(ctx: ApiContext) -> StationService:
    if ctx.stations is None:
        raise NotFound("no factory is loaded yet (microfactory init)")
    return ctx.stations


def _printers(ctx: ApiContext) -> PrinterDesk | None:
    return ctx.printers


def _maintenance(ctx: ApiContext) -> MaintenanceWork:
    if ctx.maintenance_work is None:
        raise NotFound("no factory is loaded yet (microfactory init)")
    return ctx.maintenance_work


def printer_rows(ctx: ApiContext) -> list[dict[str, Any]]:
    """Each printer with a host as the print farm last saw it (empty without printers)."""
    desk = _printers(ctx)
    if desk is None or not desk.machines:
        return []
    return desk.report()


# -- the operator terminal ---------------------------------------------------------------


def terminal_view(ctx: ApiContext, machine: str, selected: str) -> dict[str, Any]:
    """Everything the terminal shows for `machine`, read in one go."""
    service = _stations(ctx)
    factory = service.factory
    if machine not in factory.machine_map:
        known = ", ".join(m.id for m in factory.machines)
        raise NotFound(f"machine {machine} does not exist (machines: {known})")
    with ctx.uow() as tx:
        queue = service.queues.get(tx, factory, machine)
        picked = None
        if selected:
            try:
                op = find_operation(tx, selected)
            except NotFound:
                op = None
            if op is not None:
                picked = op.id
                if all(item.operation != op.id for item in queue):
                    wo_queue = station_queue(tx, factory, op.machine or machine, plan=service.plan)
                    queue = [i for i in wo_queue if i.operation == op.id] + queue
    status = service.status(machine)
    printer = next((p for p in printer_rows(ctx) if p["machine"] == machine), None)
    reason = status.reason or ""
    return {
        "machine": factory.machine_map[machine],
        "queue": queue,
        "selected": picked,
        "status": status,
        "paused_op": reason.split(":", 1)[1] if reason.startswith("paused:") else None,
        "down": status.state.value == "OutOfService" or reason.startswith("down:"),
        "reasons": DOWNTIME_REASONS,
        "printer": printer,
        "materials": factory.materials,
        "has_models": ctx.quotes is not None and ctx.quotes.models is not None,
    }


async def _terminal(
    request: Request,
    user: User,
    ctx: ApiContext,
    machine: str,
    *,
    selected: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    view = await run_in_threadpool(terminal_view, ctx, machine, selected)
    return await render(
        request,
        "station.html",
        user,
        http_status=status,
        error=error,
        notice=notice,
        can_record=user.can(Permission.SHOPFLOOR_WRITE),
        **view,
    )


@terminal.get("/stations")
async def stations_index(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    cards = await run_in_threadpool(dash(ctx).machine_cards)
    return await render(request, "stations.html", user, machines=cards)


@terminal.get("/stations/{machine}")
async def station_page(
    machine: str,
    request: Request,
    user: PageUser,
    ctx: Ctx,
    op: str = "",
    notice: str = "",
) -> HTMLResponse:
    return await _terminal(request, user, ctx, machine, selected=op[:80], notice=notice[:200])


def _back(machine: str, notice: str, op: str = "") -> RedirectResponse:
    url = f"/stations/{quote(machine)}?notice={quote(notice)}"
    if op:
        url += f"&op={quote(op)}#op-{quote(op)}"
    return RedirectResponse(url, status_code=303)


async def _act(
    request: Request,
    user: User,
    ctx: ApiContext,
    machine: str,
    work: Callable[[], str],
    *,
    op: str = "",
    detail: str,
    at_once: bool = False,
) -> Response:
    """Run one station action; the terminal again with its notice, or with the reason it
    was refused (422 for bad input, 409 when the shop's state refused it)."""
    note_detail(request, detail)
    try:
        notice = await run_in_threadpool(work)
    except MicrofactoryError as exc:
        # a typed or scanned id that does not exist is bad input on this form
        status = 422 if isinstance(exc, ValidationError | NotFound) else status_for(exc)[0]
        return await _terminal(
            request, user, ctx, machine, selected=op, error=str(exc), status=status
        )
    if at_once:  # a measurement: whoever took it may look at the quality chart next
        dash(ctx).invalidate()
    else:  # the pages show it within 3 s (the terminal at once)
        dash(ctx).expire()
    return _back(machine, notice, op)


@terminal.post("/stations/{machine}/scan")
async def station_scan(
    machine: str,
    request: Request,
    ctx: Ctx,
    user: PageUser,
    code: Annotated[str, Form(max_length=80)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """A scanner types an operation or work order id and Enter: that card is picked."""

    def work() -> str:
        with ctx.uow() as tx:
            op = find_operation(tx, code)
        return op.id

    try:
        op_id = await run_in_threadpool(work)
    except MicrofactoryError as exc:
        return await _terminal(request, user, ctx, machine, error=str(exc), status=422)
    url = f"/stations/{quote(machine)}?op={quote(op_id)}#op-{quote(op_id)}"
    return RedirectResponse(url, status_code=303)


def _int(text: str, where: str) -> int:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        raise ValidationError(f"must be a whole number, got {text!r}", where=where) from None
    return value


def _float(text: str, where: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ValidationError(f"must be a number, got {text!r}", where=where) from None


@terminal.post("/stations/{machine}/operations/{operation}/{action}")
async def station_operation(
    machine: str,
    operation: str,
    action: str,
    request: Request,
    ctx: Ctx,
    user: Operator,
    good: Annotated[str, Form(max_length=12)] = "0",
    scrap: Annotated[str, Form(max_length=12)] = "0",
    csrf_token: Csrf = "",
) -> Response:
    service = _stations(ctx)

    def work() -> str:
        if action in ("start", "finish"):
            recorded = service.record_job(
                StationAction(
                    operation,
                    "started" if action == "start" else "finished",
                    user.username,
                    machine,
                    _int(good, "good") if action == "finish" else 0,
                    _int(scrap, "scrap") if action == "finish" else 0,
                )
            )
            done = recorded.operation
            if not recorded.applied:  # stored; the applier is behind
                return f"{done.id} {action} recorded; pending, the shop is catching up."
            if action == "start":
                return f"{done.id} started on {done.machine}."
            return f"{done.id} finished: {done.good} good, {done.rejected} scrap."
        if action == "pause":
            service.pause(operation, user.username)
            return f"{operation} paused."
        if action == "resume":
            service.resume(operation, user.username)
            return f"{operation} resumed."
        raise NotFound(f"no station action {action!r} (start, pause, resume, finish)")

    return await _act(
        request, user, ctx, machine, work, op=operation, detail=f"{operation} {action} {machine}"
    )


@terminal.post("/stations/{machine}/downtime")
async def station_downtime(
    machine: str,
    request: Request,
    ctx: Ctx,
    user: Operator,
    reason: Annotated[str, Form(max_length=40)],
    note: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> Response:
    service = _stations(ctx)

    def work() -> str:
        service.downtime(machine, reason, user.username, note)
        return f"{machine} stopped: {DOWNTIME_REASONS[reason].lower()}."

    return await _act(request, user, ctx, machine, work, detail=f"{machine} down: {reason}")


@terminal.post("/stations/{machine}/up")
async def station_up(
    machine: str, request: Request, ctx: Ctx, user: Operator, csrf_token: Csrf = ""
) -> Response:
    service = _stations(ctx)

    def work() -> str:
        service.back_up(machine, user.username)
        return f"{machine} is back up."

    return await _act(request, user, ctx, machine, work, detail=f"{machine} back up")


@terminal.post("/stations/{machine}/measure")
async def station_measure(
    machine: str,
    request: Request,
    ctx: Ctx,
    user: Operator,
    characteristic: Annotated[str, Form(max_length=64)],
    value: Annotated[str, Form(max_length=32)],
    operation: Annotated[str, Form(max_length=80)] = "",
    part: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Csrf = "",
) -> Response:
    service = _stations(ctx)

    def work() -> str:
        lot = None
        if operation:
            with ctx.uow() as tx:
                op = tx.work_orders.get_operation(operation)
                lot = tx.work_orders.get(op.work_order).lot or None
        got = service.measure(
            machine,
            characteristic,
            _float(value, "value"),
            user.username,
            part_id=part.strip() or None,
            lot_id=lot,
        )
        return f"{got['characteristic']} = {got['value']:g} recorded."

    return await _act(
        request,
        user,
        ctx,
        machine,
        work,
        op=operation,
        detail=f"{machine} {characteristic}",
        at_once=True,
    )


@terminal.post("/stations/{machine}/plate-clear")
async def station_plate_clear(
    machine: str, request: Request, ctx: Ctx, user: Operator, csrf_token: Csrf = ""
) -> Response:
    def work() -> str:
        desk = _printers(ctx)
        if desk is None:
            raise NotFound("no printers are known")
        desk.plate_clear(machine, f"user:{user.username}")
        return f"{machine}: plate confirmed clear."

    return await _act(request, user, ctx, machine, work, detail=f"{machine} plate clear")


@terminal.post("/stations/{machine}/spool")
async def station_spool(
    machine: str,
    request: Request,
    ctx: Ctx,
    user: Operator,
    material: Annotated[str, Form(max_length=64)],
    lot: Annotated[str, Form(max_length=64)] = "",
    grams: Annotated[str, Form(max_length=16)] = "",
    csrf_token: Csrf = "",
) -> Response:
    def work() -> str:
        desk = _printers(ctx)
        if desk is None:
            raise NotFound("no printers are known")
        weight = _float(grams, "grams") if grams.strip() else None
        record = desk.load_spool(
            machine, material, lot=lot.strip() or None, grams=weight, by=f"user:{user.username}"
        )
        return record.message or f"{machine}: spool loaded."

    return await _act(request, user, ctx, machine, work, detail=f"{machine} spool {material}")


@terminal.get("/stations/models/{quote_id}")
async def station_model(quote_id: str, user: PageUser, ctx: Ctx) -> Response:
    """The 3D model of the quote an order came from (to look at before printing)."""
    models = ctx.quotes.models if ctx.quotes is not None else None
    if models is None:
        raise NotFound("models are not kept on this site")
    found = await run_in_threadpool(models.for_quote, quote_id)
    if found is None:
        raise NotFound(f"the model of quote {quote_id} was not kept")
    sha, name = found
    data = await run_in_threadpool(models.data, sha)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "model.stl"
    return Response(
        data,
        media_type="model/stl",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


# -- the machines index and the printers' live tiles -------------------------------------


def machines_view(ctx: ApiContext) -> dict[str, Any]:
    cards = dash(ctx).machine_cards()
    views = ctx.machine_views
    orders = views.maintenance_orders() if views is not None else []
    due: dict[str, dict[str, Any]] = {}
    for o in orders:
        if o["status"] not in OPEN_MAINTENANCE:
            continue
        when = o.get("window_start") or o["created"]
        if o["machine"] not in due or when < due[o["machine"]]["when"]:
            due[o["machine"]] = {"id": o["id"], "when": when, "kind": o["kind"]}
    return {"machines": cards, "pm_due": due, "printers": printer_rows(ctx)}


def machines_rows_html(view: dict[str, Any]) -> str:
    return TEMPLATES.get_template("_machine_rows.html").render(**view)


def printer_tiles_html(rows: list[dict[str, Any]]) -> str:
    return TEMPLATES.get_template("_printer_tiles.html").render(printers=rows)


@router.get("/machines")
async def machines_index(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    view = await run_in_threadpool(machines_view, ctx)
    return await render(request, "machines.html", user, **view)


async def _changes(
    request: Request, name: str, make: Callable[[], str], interval: float
) -> AsyncIterator[str]:
    """Push the fragment whenever it changes; a comment line keeps proxies open."""
    last = ""
    yield "retry: 3000\n\n"
    while True:
        if await request.is_disconnected():
            return
        html = await run_in_threadpool(make)
        if html != last:
            last = html
            yield sse_event(name, html)
        yield ": keep-alive\n\n"
        await asyncio.sleep(interval)


def _stream(request: Request, name: str, make: Callable[[], str], ctx: ApiContext) -> Response:
    return StreamingResponse(
        _changes(request, name, make, ctx.sse_interval_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/stream/machines")
async def machines_stream(request: Request, user: PageUser, ctx: Ctx) -> Response:
    return _stream(request, "machines", lambda: machines_rows_html(machines_view(ctx)), ctx)


@router.get("/stream/printers")
async def printers_stream(request: Request, user: PageUser, ctx: Ctx) -> Response:
    return _stream(request, "printers", lambda: printer_tiles_html(printer_rows(ctx)), ctx)


@router.get("/printers/panel")
async def printers_panel(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    """The overview's printer section (live over SSE); empty when no printer has a host."""
    rows = await run_in_threadpool(printer_rows, ctx)
    if not rows:
        return HTMLResponse("")
    html = TEMPLATES.get_template("_printers_panel.html").render(printers=rows)
    return HTMLResponse(html)


# -- maintenance work orders ---------------------------------------------------------------


async def _work_order_page(
    request: Request,
    user: User,
    ctx: ApiContext,
    wo_id: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = await run_in_threadpool(_maintenance(ctx).get, wo_id)
    return await render(
        request,
        "maintenance_order.html",
        user,
        http_status=status,
        wo=row,
        error=error,
        notice=notice,
        values=values
        or {"parts": parts_text(row["parts"]), "labour_hours": f"{row['labour_hours']:g}"},
        can_close=user.can(Permission.MAINTENANCE_WRITE) and row["status"] in OPEN_MAINTENANCE,
    )


@router.get("/maintenance/{wo_id}")
async def maintenance_order_page(
    wo_id: str, request: Request, user: PageUser, ctx: Ctx, notice: str = ""
) -> HTMLResponse:
    return await _work_order_page(request, user, ctx, wo_id, notice=notice[:200] or None)


@router.post("/maintenance/{wo_id}/start")
async def maintenance_start(
    wo_id: str, request: Request, ctx: Ctx, user: Technician, csrf_token: Csrf = ""
) -> Response:
    note_detail(request, f"maintenance {wo_id} started")
    try:
        await run_in_threadpool(_maintenance(ctx).start, wo_id, user.username)
    except MicrofactoryError as exc:
        return await _work_order_page(request, user, ctx, wo_id, error=str(exc), status=409)
    dash(ctx).invalidate()
    ctx.cache.clear()
    return RedirectResponse(
        f"/maintenance/{quote(wo_id)}?notice={quote('Work started.')}", status_code=303
    )


@router.post("/maintenance/{wo_id}/close")
async def maintenance_close(
    wo_id: str,
    request: Request,
    ctx: Ctx,
    user: Technician,
    checked: Annotated[list[str] | None, Form(max_length=50)] = None,
    parts: Annotated[str, Form(max_length=4000)] = "",
    labour_hours: Annotated[str, Form(max_length=16)] = "0",
    csrf_token: Csrf = "",
) -> Response:
    ticked = tuple(c[:200] for c in (checked or []))
    values = {"parts": parts, "labour_hours": labour_hours, "checked": ticked}
    note_detail(request, f"maintenance {wo_id} closed: {len(ticked)} checks")
    try:
        req = MaintenanceClose(
            wo_id,
            user.username,
            ticked,
            parse_parts(parts),
            _float(labour_hours or "0", "labour_hours"),
        )
        await run_in_threadpool(_maintenance(ctx).close, req)
    except MicrofactoryError as exc:
        status = 422 if isinstance(exc, ValidationError) else status_for(exc)[0]
        return await _work_order_page(
            request, user, ctx, wo_id, error=str(exc), values=values, status=status
        )
    dash(ctx).invalidate()
    ctx.cache.clear()
    return RedirectResponse(
        f"/maintenance/{quote(wo_id)}?notice={quote('Work order closed.')}", status_code=303
    )
