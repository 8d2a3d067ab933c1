"""Staff actions on the dashboard: take an order of several lines with the configurator's
typed fields, revise it (due date, priority, rush, notes), cancel it; disposition a
nonconformance, record and close its CAPA, release a lot on hold. Every action checks the
same permission as the API, carries the session's CSRF token, is audited by the middleware
(the detail names the object), and tells planning through its replan queue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_ORDERS, ALLOW_QUALITY, CSRF_FIELD, context, note_detail
from microfactory.core.errors import MicrofactoryError, NotFound, ValidationError
from microfactory.core.timeutil import parse_rfc3339, zone
from microfactory.orders import Order, OrderLine, Product
from microfactory.orders.products import ParameterSpec
from microfactory.services.dashboard import take_order
from microfactory.services.order_changes import (
    LineEdit,
    OrderRevision,
    cancel_and_replan,
    line_begun,
    revise_lines,
    revise_order,
)
from microfactory.services.orders import OrderRequest
from microfactory.services.quality import close_ncr, disposition_ncr, record_capa, release_hold
from microfactory.web.pages import TEMPLATES, PageUser, _local_input, _site_zone, render

MAX_LINES = 10
router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
Orders = Annotated[User, Depends(ALLOW_ORDERS)]
Quality = Annotated[User, Depends(ALLOW_QUALITY)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=100)]


@pass_context
def _local_input_value(context: Context, value: datetime | None) -> str:
    """A time as a `datetime-local` field's value in the site's zone."""
    if value is None:
        return ""
    return value.astimezone(zone(_site_zone(context))).strftime("%Y-%m-%dT%H:%M")


TEMPLATES.env.filters["local_input"] = _local_input_value


# new order: several lines, typed parameters -----------------------------------------------
def field_name(line: int, product: str, parameter: str) -> str:
    return f"lines-{line}-{product}-{parameter}"


def parse_parameter(spec: ParameterSpec, raw: str, where: str) -> Any:
    """A typed form field's text as the parameter's type (the product then checks range and
    choices); empty means "use the default"."""
    text = raw.strip()
    if spec.type == "int":
        try:
            return int(text)
        except ValueError:
            raise ValidationError(
                f"parameter {spec.name} must be a whole number, got {text!r}", where=where
            ) from None
    if spec.type == "float":
        try:
            return float(text)
        except ValueError:
            raise ValidationError(
                f"parameter {spec.name} must be a number, got {text!r}", where=where
            ) from None
    if spec.type == "bool":
        if text not in ("true", "false"):
            raise ValidationError(
                f"parameter {spec.name} must be true or false, got {text!r}", where=where
            )
        return text == "true"
    return text


def parse_line(
    form: Mapping[str, str], products: Mapping[str, Product], n: int
) -> OrderLine | None:
    """Line `n` of the form: `lines-N-product`, `lines-N-quantity` and one typed field per
    parameter of the chosen product; None when no product is chosen."""
    product_id = form.get(f"lines-{n}-product", "").strip()
    if not product_id:
        return None
    where = f"line {n + 1}"
    product = products.get(product_id)
    if product is None:
        known = ", ".join(sorted(products))
        raise ValidationError(f"unknown product {product_id!r} (known: {known})", where=where)
    raw_qty = form.get(f"lines-{n}-quantity", "").strip()
    try:
        quantity = int(raw_qty)
    except ValueError:
        raise ValidationError(
            f"quantity must be a whole number, got {raw_qty!r}", where=where
        ) from None
    parameters: dict[str, Any] = {}
    for spec in product.parameters:
        raw = form.get(field_name(n, product.id, spec.name), "")
        if raw.strip():
            parameters[spec.name] = parse_parameter(spec, raw, where)
    try:
        line = OrderLine(product=product.id, quantity=quantity, parameters=parameters)
        product.resolve_parameters(line.parameters)
    except ValueError as exc:
        raise ValidationError(str(exc), where=where) from exc
    return line


def parse_lines(
    form: Mapping[str, str], products: Mapping[str, Product], count: int
) -> list[OrderLine]:
    """The order lines of the form (`parse_line`); a line without a product is skipped."""
    lines = [line for n in range(count) if (line := parse_line(form, products, n)) is not None]
    if not lines:
        raise ValidationError("an order needs at least one line with a product", where="line 1")
    return lines


def parse_line_edits(
    form: Mapping[str, str], products: Mapping[str, Product], count: int
) -> list[LineEdit]:
    """The edited lines of an order: each line as `parse_line` reads it, with the number it
    had (`lines-N-was`, none for a line added now); a line marked `lines-N-remove` or left
    without a product is dropped."""
    edits: list[LineEdit] = []
    for n in range(count):
        if form.get(f"lines-{n}-remove"):
            continue
        line = parse_line(form, products, n)
        if line is None:
            continue
        raw_was = form.get(f"lines-{n}-was", "").strip()
        try:
            was = int(raw_was) if raw_was else None
        except ValueError:
            where = f"line {n + 1}"
            raise ValidationError(f"not a line number: {raw_was!r}", where=where) from None
        edits.append(LineEdit(line, was))
    return edits


def line_values(order: Order) -> dict[str, str]:
    """An order's lines as the edit form's field values."""
    values: dict[str, str] = {}
    for n, line in enumerate(order.lines):
        values[f"lines-{n}-product"] = line.product
        values[f"lines-{n}-quantity"] = str(line.quantity)
        values[f"lines-{n}-was"] = str(n + 1)
        for name, value in line.parameters.items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            values[field_name(n, line.product, name)] = text
    return values


async def order_form(
    request: Request,
    user: User,
    ctx: ApiContext,
    values: dict[str, str],
    error: str | None,
    *,
    lines: int = 1,
    status: int = 200,
) -> HTMLResponse:
    service = ctx.dashboard
    factory = await run_in_threadpool(service.factory)
    customers = await run_in_threadpool(service.customers)
    local_now = ctx.clock.now().astimezone(zone(ctx.timezone))
    default_due = (local_now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    defaults = {"due": default_due, "priority": "3"}
    for n in range(lines):
        defaults[f"lines-{n}-quantity"] = "1"
    return await render(
        request,
        "order_new.html",
        user,
        http_status=status,
        products=factory.products,
        customers=customers,
        values={**defaults, **values},
        lines=lines,
        field_name=field_name,
        error=error,
        can_write=user.can(Permission.ORDERS_WRITE),
    )


@router.get("/orders/new")
async def new_order_page(request: Request, user: PageUser, ctx: Ctx, lines: int = 1) -> Response:
    return await order_form(request, user, ctx, {}, None, lines=max(1, min(lines, MAX_LINES)))


@router.post("/orders/new")
async def new_order_submit(request: Request, ctx: Ctx, user: Orders) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and len(v) <= 2000}
    try:
        count = max(1, min(int(form.get("lines", "1")), MAX_LINES))
    except ValueError:
        count = 1
    if "add_line" in form:
        return await order_form(request, user, ctx, form, None, lines=min(count + 1, MAX_LINES))
    try:
        factory = await run_in_threadpool(ctx.dashboard.factory)
        lines = parse_lines(form, factory.product_map, count)
        try:
            priority = int(form.get("priority", "3"))
        except ValueError:
            raise ValidationError("must be a whole number 1 to 5", where="priority") from None
        customer = form.get("customer", "").strip()
        if not customer:
            raise ValidationError("choose a customer", where="customer")
        req = OrderRequest(
            customer=customer,
            lines=tuple(lines),
            due=_local_input(form.get("due", ""), ctx.timezone),
            priority=priority,
            rush=bool(form.get("rush")),
            notes=form.get("notes", "")[:2000],
        )
        order = await run_in_threadpool(take_order, ctx.uow, ctx.clock, req, True)
    except MicrofactoryError as exc:
        return await order_form(request, user, ctx, form, str(exc), lines=count, status=422)
    ctx.dashboard.invalidate()
    ctx.planning.request(ctx.clock.now(), "order_added", order.id)
    note_detail(request, f"order {order.id} taken ({len(order.lines)} lines)")
    return RedirectResponse(f"/orders/{quote(order.id)}", status_code=303)


# revise, rush, cancel ---------------------------------------------------------------------
async def order_page_with(
    request: Request, user: User, ctx: ApiContext, order_id: str, error: str, status: int
) -> HTMLResponse:
    """The order's page with the reason an action was refused."""
    service = ctx.dashboard
    detail = await run_in_threadpool(service.order_detail, order_id)
    late = {w.id: service.is_late(w) for w in detail.work_orders}
    return await render(
        request, "order.html", user, http_status=status, d=detail, late=late, error=error
    )


def _done(order_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(
        f"/orders/{quote(order_id)}?{urlencode({'notice': notice})}", status_code=303
    )


async def _revise(
    request: Request, ctx: ApiContext, user: User, order_id: str, revision: OrderRevision
) -> Response:
    try:
        order = await run_in_threadpool(
            lambda: revise_order(
                ctx.uow, ctx.clock, ctx.planning, order_id, revision, by=user.username
            )
        )
    except NotFound:
        raise
    except MicrofactoryError as exc:
        status = 422 if isinstance(exc, ValidationError) else 409
        return await order_page_with(request, user, ctx, order_id, str(exc), status)
    ctx.dashboard.invalidate()
    return _done(order.id, "Order changed; planning will take it into account.")


@router.post("/orders/{order_id}/edit")
async def edit_order(
    order_id: str,
    request: Request,
    ctx: Ctx,
    user: Orders,
    due: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[str, Form(max_length=10)] = "",
    rush: Annotated[str, Form(max_length=5)] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"order {order_id} revised")
    try:
        when: datetime | None = _local_input(due, ctx.timezone) if due.strip() else None
        try:
            prio = int(priority) if priority.strip() else None
        except ValueError:
            raise ValidationError("must be a whole number 1 to 5", where="priority") from None
    except ValidationError as exc:
        return await order_page_with(request, user, ctx, order_id, str(exc), 422)
    revision = OrderRevision(due=when, priority=prio, rush=bool(rush), notes=notes)
    return await _revise(request, ctx, user, order_id, revision)


# edit the lines ------------------------------------------------------------------------------
async def lines_form(
    request: Request,
    user: User,
    ctx: ApiContext,
    order_id: str,
    values: dict[str, str] | None,
    error: str | None,
    *,
    lines: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The order's lines as a form (`values`: what was typed; None: the stored lines)."""

    def load() -> tuple[Order, set[int], Any]:
        with ctx.uow() as tx:
            order = tx.orders.get(order_id)
            begun = {
                w.line_no
                for w in tx.work_orders.find(order=order_id)
                if w.line_no > 0 and line_begun(w)
            }
        return order, begun, ctx.dashboard.factory()

    order, begun, factory = await run_in_threadpool(load)
    shown = line_values(order) if values is None else values
    return await render(
        request,
        "order_lines.html",
        user,
        http_status=status,
        o=order,
        products=factory.products,
        values=shown,
        lines=lines or len(order.lines),
        field_name=field_name,
        editing=True,
        begun=begun,
        error=error,
        can_write=user.can(Permission.ORDERS_WRITE),
    )


@router.get("/orders/{order_id}/lines")
async def lines_page(order_id: str, request: Request, user: PageUser, ctx: Ctx) -> Response:
    return await lines_form(request, user, ctx, order_id, None, None)


@router.post("/orders/{order_id}/lines")
async def lines_submit(order_id: str, request: Request, ctx: Ctx, user: Orders) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and len(v) <= 2000}
    try:
        count = max(1, min(int(form.get("lines", "1")), MAX_LINES))
    except ValueError:
        count = 1
    if "add_line" in form:
        more = min(count + 1, MAX_LINES)
        return await lines_form(request, user, ctx, order_id, form, None, lines=more)
    note_detail(request, f"order {order_id} lines revised")
    try:
        factory = await run_in_threadpool(ctx.dashboard.factory)
        edits = parse_line_edits(form, factory.product_map, count)
        await run_in_threadpool(
            lambda: revise_lines(
                ctx.uow, ctx.clock, ctx.planning, order_id, edits, by=user.username
            )
        )
    except NotFound:
        raise
    except MicrofactoryError as exc:
        status = 422 if isinstance(exc, ValidationError) else 409
        return await lines_form(
            request, user, ctx, order_id, form, str(exc), lines=count, status=status
        )
    ctx.dashboard.invalidate()
    return _done(order_id, "Lines changed; planning will take them into account.")


@router.post("/orders/{order_id}/rush")
async def rush_order(
    order_id: str, request: Request, ctx: Ctx, user: Orders, csrf_token: Csrf = ""
) -> Response:
    note_detail(request, f"order {order_id} rushed")
    return await _revise(request, ctx, user, order_id, OrderRevision(rush=True))


@router.post("/orders/{order_id}/cancel")
async def cancel_order_submit(
    order_id: str,
    request: Request,
    ctx: Ctx,
    user: Orders,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"order {order_id} cancelled: {reason[:100]}")
    try:
        await run_in_threadpool(
            lambda: cancel_and_replan(
                ctx.uow, ctx.clock, ctx.planning, order_id, by=user.username, reason=reason
            )
        )
    except NotFound:
        raise
    except MicrofactoryError as exc:
        status = 422 if isinstance(exc, ValidationError) else 409
        return await order_page_with(request, user, ctx, order_id, str(exc), status)
    ctx.dashboard.invalidate()
    return _done(order_id, "Order cancelled; its capacity is freed at the next plan.")


# quality: disposition, CAPA, hold release ----------------------------------------------------
async def refused(request: Request, user: User, message: str, status: int) -> HTMLResponse:
    return await render(
        request,
        "action_error.html",
        user,
        http_status=status,
        title="Not done",
        message=message,
        back="/quality",
    )


def _quality_done(notice: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/quality?{urlencode({'notice': notice})}#{anchor}", status_code=303)


async def _quality_action(request: Request, user: User, work: Any) -> HTMLResponse | None:
    """Run `work`; a refusal renders the reason (None: done)."""
    try:
        await run_in_threadpool(work)
    except NotFound as exc:
        return await refused(request, user, str(exc), 404)
    except MicrofactoryError as exc:
        status = 422 if isinstance(exc, ValidationError) else 409
        return await refused(request, user, str(exc), status)
    return None


@router.post("/quality/ncrs/{ncr_id}/disposition")
async def disposition_submit(
    ncr_id: str,
    request: Request,
    ctx: Ctx,
    user: Quality,
    disposition: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"ncr {ncr_id} disposition {disposition}")
    result = await _quality_action(
        request,
        user,
        lambda: disposition_ncr(
            ctx.quality, ncr_id, disposition, by=user.username, at=ctx.clock.now(), note=note
        ),
    )
    if result is not None:
        return result
    ctx.cache.clear()
    return _quality_done(f"NCR {ncr_id}: {disposition}.", f"ncr-{ncr_id}")


def _due(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return parse_rfc3339(text.strip() + "T00:00:00Z")
    except (ValueError, MicrofactoryError):
        raise ValidationError(
            f"expected a date (YYYY-MM-DD), got {text.strip()!r}", where="due"
        ) from None


@router.post("/quality/ncrs/{ncr_id}/capa")
async def capa_submit(
    ncr_id: str,
    request: Request,
    ctx: Ctx,
    user: Quality,
    root_cause: Annotated[str, Form(max_length=2000)] = "",
    corrective_action: Annotated[str, Form(max_length=2000)] = "",
    preventive_action: Annotated[str, Form(max_length=2000)] = "",
    owner: Annotated[str, Form(max_length=64)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
    close: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"ncr {ncr_id} capa{' and close' if close else ''}")

    def work() -> None:
        record_capa(
            ctx.quality,
            ncr_id,
            root_cause=root_cause.strip(),
            corrective_action=corrective_action.strip(),
            preventive_action=preventive_action.strip(),
            owner=owner.strip(),
            due=_due(due),
        )
        if close:
            close_ncr(ctx.quality, ncr_id, ctx.clock.now())

    result = await _quality_action(request, user, work)
    if result is not None:
        return result
    ctx.cache.clear()
    what = "CAPA recorded and NCR closed" if close else "CAPA recorded"
    return _quality_done(f"NCR {ncr_id}: {what}.", f"ncr-{ncr_id}")


@router.post("/quality/holds/{lot}/release")
async def release_submit(
    lot: str,
    request: Request,
    ctx: Ctx,
    user: Quality,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"lot {lot} released: {reason[:100]}")

    def work() -> None:
        if not reason.strip():
            raise ValidationError("say why the lot may go on", where="reason")
        release_hold(
            ctx.quality, ctx.planning, lot, by=user.username, at=ctx.clock.now(), note=reason
        )

    result = await _quality_action(request, user, work)
    if result is not None:
        return result
    ctx.cache.clear()
    ctx.dashboard.invalidate()
    return _quality_done(f"Lot {lot} released; planning will schedule its work again.", "holds")
