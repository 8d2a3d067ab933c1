"""The Quotes page: staff upload a customer's model (STL, 3MF, OBJ; the quoting intake's
hostile-input checks apply), choose product, material and quantity, and see the price, the
promised date and the breakdown; they send the quote (state `sent`) and accept it (a released
order, replanned: the same use case as the API and the CLI). Reading needs quotes:read,
every action quotes:write; every form carries the session's CSRF token."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import CSRF_FIELD, Allow, context, note_detail
from microfactory.core.errors import MicrofactoryError, NotFound, ValidationError
from microfactory.core.timeutil import parse_rfc3339
from microfactory.quoting.processes import print_material
from microfactory.services.quoting import QuoteService
from microfactory.web.pages import PageUser, render

UPLOAD_PAGE_PATH = "/quotes"
ALLOW_QUOTES_WRITE = Allow(Permission.QUOTES_WRITE)
PRINT_CAPABILITIES = ("fdm_print", "resin_print")

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
Writer = Annotated[User, Depends(ALLOW_QUOTES_WRITE)]


def quotes(ctx: ApiContext) -> QuoteService:
    service: QuoteService = ctx.quotes
    return service


def form_choices(ctx: ApiContext) -> dict[str, Any]:
    """What the quote form offers: printable materials, the products an accepted quote may
    become (routing starts with a print), customers."""
    factory = ctx.dashboard.factory()
    materials = [
        (m.id, m.name, pm.process.value)
        for m in factory.materials
        if (pm := print_material(m)) is not None
    ]
    products = [
        (p.id, p.name, p.routing[0].capability)
        for p in factory.products
        if p.routing and p.routing[0].capability in PRINT_CAPABILITIES
    ]
    return {"materials": materials, "products": products, "customers": ctx.dashboard.customers()}


async def _list_page(
    request: Request,
    user: User,
    ctx: ApiContext,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    choices = await run_in_threadpool(form_choices, ctx)
    items = await run_in_threadpool(quotes(ctx).recent, 100)
    return await render(
        request,
        "quotes.html",
        user,
        http_status=status,
        error=error,
        values={"quantity": "1", "units": "mm", **(values or {})},
        quotes=items,
        can_write=user.can(Permission.QUOTES_WRITE),
        max_mb=quotes(ctx).settings.limits.max_file_bytes / 1e6,
        **choices,
    )


@router.get("/quotes")
async def quotes_page(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    if not user.can(Permission.QUOTES_READ):
        return await _forbidden(request, user, "read quotes")
    return await _list_page(request, user, ctx)


@router.post("/quotes")
async def quote_submit(
    request: Request,
    ctx: Ctx,
    user: Writer,
    file: Annotated[UploadFile, File()],
    material: Annotated[str, Form(max_length=64)],
    quantity: Annotated[str, Form(max_length=10)] = "1",
    product: Annotated[str, Form(max_length=64)] = "",
    customer: Annotated[str, Form(max_length=64)] = "",
    units: Annotated[str, Form(max_length=16)] = "mm",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    values = {
        "material": material,
        "quantity": quantity,
        "product": product,
        "customer": customer,
        "units": units,
    }
    service = quotes(ctx)
    limit = service.settings.limits.max_file_bytes
    try:
        data = await file.read(limit + 1)
        if not data:
            raise ValidationError("choose a model file (STL, 3MF or OBJ) to quote", where="file")
        if len(data) > limit:
            raise ValidationError(f"the model is over the {limit}-byte upload limit", where="file")
        try:
            qty = int(quantity)
        except ValueError:
            raise ValidationError(
                f"must be a whole number, got {quantity!r}", where="quantity"
            ) from None
        if not 1 <= qty <= 100_000:
            raise ValidationError("must be 1 to 100000", where="quantity")
        if customer:
            await run_in_threadpool(_known_customer, ctx, customer)
        response = await run_in_threadpool(
            lambda: service.quote_upload(
                data,
                file.filename or "upload",
                material=material,
                quantity=qty,
                customer=customer or None,
                units=units or None,
                product=product or None,
            )
        )
    except MicrofactoryError as exc:
        return await _list_page(request, user, ctx, error=str(exc), values=values, status=422)
    note_detail(request, f"quote {response.quote_id}")
    return RedirectResponse(f"/quotes/{url_quote(str(response.quote_id))}", status_code=303)


def _known_customer(ctx: ApiContext, customer: str) -> None:
    known = [c.id for c in ctx.dashboard.customers()]
    if customer not in known:
        raise ValidationError(
            f"customer {customer!r} is unknown; known: {', '.join(known)}", where="customer"
        )


def quote_view(ctx: ApiContext, quote_id: str) -> dict[str, Any]:
    """The stored quote with its times parsed for the page's local-time filters."""
    q = quotes(ctx).get(quote_id)
    times = ("promised_date", "quoted_at", "expires_at", "earliest_completion")
    parsed: dict[str, Any] = {k: parse_rfc3339(q[k]) for k in times if q.get(k)}
    parsed["reservations"] = [
        {**r, "start": parse_rfc3339(r["start"]), "end": parse_rfc3339(r["end"])}
        for r in q.get("reservations", [])
    ]
    return {**q, **parsed, "id": quote_id}


@router.get("/quotes/{quote_id}")
async def quote_page(
    quote_id: str, request: Request, user: PageUser, ctx: Ctx, notice: str = ""
) -> HTMLResponse:
    if not user.can(Permission.QUOTES_READ):
        return await _forbidden(request, user, "read quotes")
    return await _detail(request, user, ctx, quote_id, notice=notice[:200] or None)


async def _detail(
    request: Request,
    user: User,
    ctx: ApiContext,
    quote_id: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    q = await run_in_threadpool(quote_view, ctx, quote_id)
    return await render(
        request,
        "quote.html",
        user,
        http_status=status,
        q=q,
        error=error,
        notice=notice,
        can_write=user.can(Permission.QUOTES_WRITE),
    )


@router.post("/quotes/{quote_id}/send")
async def send_submit(
    quote_id: str,
    request: Request,
    ctx: Ctx,
    user: Writer,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    note_detail(request, f"quote {quote_id} sent")
    try:
        await run_in_threadpool(quotes(ctx).send, quote_id)
    except MicrofactoryError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _detail(request, user, ctx, quote_id, error=str(exc), status=409)
    return RedirectResponse(
        f"/quotes/{url_quote(quote_id)}?notice=Sent+to+the+customer.", status_code=303
    )


@router.post("/quotes/{quote_id}/accept")
async def accept_submit(
    quote_id: str,
    request: Request,
    ctx: Ctx,
    user: Writer,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    try:
        accepted = await run_in_threadpool(quotes(ctx).accept, quote_id)
    except MicrofactoryError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _detail(request, user, ctx, quote_id, error=str(exc), status=409)
    ctx.dashboard.invalidate()
    note_detail(request, f"quote {quote_id} -> order {accepted.order_id}")
    return RedirectResponse(f"/orders/{url_quote(accepted.order_id)}", status_code=303)


async def _forbidden(request: Request, user: User, what: str) -> HTMLResponse:
    return await render(
        request,
        "error.html",
        user,
        http_status=403,
        title="Forbidden",
        message=f"Role {user.role} may not {what}.",
    )
