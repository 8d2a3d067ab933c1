"""The Materials page: stock by lot against safety stock, consumption over the last days,
purchase suggestions, open purchase orders (receive them), a receipt form and stock alerts.
Forms carry the session's CSRF token and need the same permissions as the API (receipts:
materials:write)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_MATERIALS, CSRF_FIELD, context, note_detail
from microfactory.core.errors import MicrofactoryError, ValidationError
from microfactory.core.timeutil import parse_rfc3339, zone
from microfactory.orders.stock import MovementKind, PurchaseStatus
from microfactory.services.factory import current_factory
from microfactory.services.materials import (
    Receipt,
    consumption_by_day,
    receive,
    stock_rows,
)
from microfactory.services.purchasing import (
    purchase_order_dict,
    receive_purchase_order,
    suggest,
    suggestion_dict,
)
from microfactory.web import figures
from microfactory.web.pages import PageUser, render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
CHART_DAYS = 30


def shared_view(ctx: ApiContext) -> dict[str, Any]:
    """`materials_view`, shared by every viewer for the context cache's lifetime."""
    return ctx.cache.get("materials-page", lambda: materials_view(ctx))


def materials_view(ctx: ApiContext) -> dict[str, Any]:
    """Everything the page shows, read in one unit of work."""
    now = ctx.clock.now()
    since = now - timedelta(days=CHART_DAYS)
    with ctx.uow() as tx:
        factory = current_factory(tx)
        lots = stock_rows(tx, factory)
        issued = tx.stock.movements(kinds=[MovementKind.ISSUE], since=since, until=now)
        suggestions = [suggestion_dict(s, factory) for s in suggest(tx, factory, now)]
        orders = [
            purchase_order_dict(po, factory) for po in tx.purchases.find(status=PurchaseStatus.OPEN)
        ]
        alerts = tx.stock.alerts(limit=20)
    on_hand: dict[str, float] = {}
    for row in lots:
        on_hand[row["material"]] = on_hand.get(row["material"], 0.0) + row["quantity"]
    materials = [
        {
            "id": m.id,
            "name": m.name,
            "unit": m.unit,
            "on_hand": round(on_hand.get(m.id, 0.0), 3),
            "safety_stock": m.safety_stock,
            "low": on_hand.get(m.id, 0.0) < m.safety_stock,
            "supplier": m.suppliers[0].name if m.suppliers else "",
        }
        for m in factory.materials
    ]
    by_day = consumption_by_day(issued, ctx.timezone)
    first = since.astimezone(zone(ctx.timezone)).date()
    days = [first + timedelta(days=i) for i in range(CHART_DAYS + 1)]
    series = {
        m.id: [round(by_day.get(d, {}).get(m.id, 0.0), 4) for d in days]
        for m in factory.materials
        if any(m.id in v for v in by_day.values())
    }
    figure = (
        figures.consumption_chart(
            [d.isoformat() for d in days], series, {m.id: m.unit for m in factory.materials}
        )
        if series
        else None
    )
    return {
        "materials": materials,
        "lots": lots,
        "suggestions": suggestions,
        "orders": orders,
        "alerts": alerts,
        "figure": figure,
        "units": {m.id: m.unit for m in factory.materials},
        "today": now.astimezone(zone(ctx.timezone)).date(),
    }


async def _page(
    request: Request,
    user: User,
    ctx: ApiContext,
    *,
    error: str | None = None,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    # shared by every viewer for the context cache's lifetime (refreshed in the background;
    # cleared by this page's own receipts): MRP suggestions are the page's heavy part
    view = await run_in_threadpool(shared_view, ctx)
    return await render(
        request,
        "materials.html",
        user,
        http_status=status,
        error=error,
        notice=notice,
        values=values or {},
        can_receive=user.can(Permission.MATERIALS_WRITE),
        **view,
    )


@router.get("/materials")
async def materials_page(
    request: Request, user: PageUser, ctx: Ctx, received: str = ""
) -> HTMLResponse:
    notice = f"Lot {received[:64]} received." if received else None
    return await _page(request, user, ctx, notice=notice)


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"must be a number, got {text!r}", where=where) from None


def _expiry(text: str) -> datetime | None:
    if not text.strip():
        return None
    value = text.strip()
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"expected a date (YYYY-MM-DD), got {value!r}", where="expires"
        ) from None
    return parse_rfc3339(value + "T00:00:00Z")


@router.post("/materials/receive")
async def receive_submit(
    request: Request,
    ctx: Ctx,
    user: Annotated[User, Depends(ALLOW_MATERIALS)],
    material: Annotated[str, Form(max_length=64)],
    lot: Annotated[str, Form(max_length=64)],
    quantity: Annotated[str, Form(max_length=32)],
    unit: Annotated[str, Form(max_length=16)] = "",
    supplier: Annotated[str, Form(max_length=200)] = "",
    cost: Annotated[str, Form(max_length=32)] = "",
    expires: Annotated[str, Form(max_length=40)] = "",
    location: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    values = {
        "material": material,
        "lot": lot,
        "quantity": quantity,
        "unit": unit,
        "supplier": supplier,
        "cost": cost,
        "expires": expires,
        "location": location,
    }
    note_detail(request, f"receipt {lot}")
    try:
        receipt = Receipt(
            material=material,
            lot=lot.strip(),
            quantity=_number(quantity, "quantity"),
            unit=unit or None,
            supplier=supplier.strip(),
            cost=_number(cost, "cost") if cost.strip() else None,
            expires=_expiry(expires),
            location=location.strip(),
        )
        now = ctx.clock.now()

        def work() -> None:
            with ctx.uow() as tx:
                receive(tx, current_factory(tx), receipt, at=now, by=f"user:{user.username}")
                tx.commit()

        await run_in_threadpool(work)
        ctx.cache.clear()
    except MicrofactoryError as exc:
        return await _page(request, user, ctx, error=str(exc), values=values, status=422)
    return RedirectResponse(f"/materials?received={receipt.lot}", status_code=303)


@router.post("/materials/purchase-orders/{po_id}/receive")
async def receive_order_submit(
    po_id: str,
    request: Request,
    ctx: Ctx,
    user: Annotated[User, Depends(ALLOW_MATERIALS)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    note_detail(request, f"purchase order {po_id} received")
    now = ctx.clock.now()

    def work() -> str:
        with ctx.uow() as tx:
            _, got = receive_purchase_order(
                tx, current_factory(tx), po_id, now, by=f"user:{user.username}"
            )
            tx.commit()
        return str(got.id)

    try:
        lot = await run_in_threadpool(work)
        ctx.cache.clear()
    except MicrofactoryError as exc:
        return await _page(request, user, ctx, error=str(exc), status=409)
    return RedirectResponse(f"/materials?received={lot}", status_code=303)
