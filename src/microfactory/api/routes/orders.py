"""Customer orders (create, list, detail with timeline, release, cancel) and work orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from microfactory.access import User
from microfactory.api import convert
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_ORDERS, ALLOW_READ, context, note_detail
from microfactory.api.routes.factory import Dash
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import utc
from microfactory.orders import OrderLine, OrderStatus, WorkStatus
from microfactory.services.dashboard import cancel_order, release, take_order
from microfactory.services.orders import OrderRequest

router = APIRouter(tags=["orders"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
Writer = Annotated[User, Depends(ALLOW_ORDERS)]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]


def order_request(body: s.OrderCreate) -> OrderRequest:
    try:
        lines = tuple(
            OrderLine(product=ln.product, quantity=ln.quantity, parameters=dict(ln.parameters))
            for ln in body.lines
        )
    except ValueError as exc:
        raise ValidationError(str(exc), where="lines") from exc
    return OrderRequest(
        customer=body.customer,
        lines=lines,
        due=utc(body.due),
        priority=body.priority,
        rush=body.rush,
        notes=body.notes,
    )


@router.get("/orders", response_model=s.Page[s.OrderPublic], summary="Orders, oldest first")
def list_orders(
    user: Reader,
    dash: Dash,
    status: Annotated[list[OrderStatus] | None, Query(description="filter; repeatable")] = None,
    customer: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.OrderPublic]:
    items, total = dash.orders_page(status=status, customer=customer, limit=limit, offset=offset)
    return s.Page[s.OrderPublic](
        items=[convert.order(o) for o in items], total=total, limit=limit, offset=offset
    )


@router.post("/orders", response_model=s.OrderPublic, status_code=201, summary="Take an order")
def create_order(body: s.OrderCreate, request: Request, user: Writer, ctx: Ctx) -> s.OrderPublic:
    order = take_order(ctx.uow, ctx.clock, order_request(body), body.release)
    ctx.dashboard.invalidate()  # its work orders show on the lists and pages at once
    note_detail(request, f"order {order.id}")
    return convert.order(order)


@router.get("/orders/{order_id}", response_model=s.OrderDetail, summary="Order detail")
def get_order(order_id: str, user: Reader, dash: Dash) -> s.OrderDetail:
    detail = dash.order_detail(order_id)
    late = {w.id: dash.is_late(w) for w in detail.work_orders}
    return convert.order_detail(detail, late)


@router.get(
    "/orders/{order_id}/timeline", response_model=list[s.TimelineEntry], summary="Status timeline"
)
def order_timeline(order_id: str, user: Reader, dash: Dash) -> list[s.TimelineEntry]:
    detail = dash.order_detail(order_id)
    return [s.TimelineEntry(status=st.value, at=at, note=n) for st, at, n in detail.timeline]


@router.post("/orders/{order_id}/release", response_model=s.OrderPublic, summary="Release")
def release_order(order_id: str, user: Writer, ctx: Ctx, dash: Dash) -> s.OrderPublic:
    order = release(ctx.uow, ctx.clock, order_id)
    dash.invalidate()
    return convert.order(order)


@router.post("/orders/{order_id}/cancel", response_model=s.OrderPublic, summary="Cancel")
def cancel(order_id: str, user: Writer, ctx: Ctx, dash: Dash) -> s.OrderPublic:
    order = cancel_order(ctx.uow, ctx.clock, order_id, f"cancelled by {user.username}")
    dash.invalidate()
    return convert.order(order)


@router.get("/work-orders", response_model=s.Page[s.WorkOrderPublic], summary="Work orders")
def list_work_orders(
    user: Reader,
    dash: Dash,
    status: Annotated[list[WorkStatus] | None, Query(description="filter; repeatable")] = None,
    order: Annotated[str | None, Query(max_length=64)] = None,
    late: Annotated[bool | None, Query(description="only late (true) or on-time (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.WorkOrderPublic]:
    items, total = dash.work_orders_page(
        status=status, order=order, late=late, limit=limit, offset=offset
    )
    return s.Page[s.WorkOrderPublic](
        items=[convert.work_order(w, dash.is_late(w)) for w in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/work-orders/{work_order_id}", response_model=s.WorkOrderPublic, summary="Work order")
def get_work_order(work_order_id: str, user: Reader, dash: Dash) -> s.WorkOrderPublic:
    w = dash.work_order(work_order_id)
    return convert.work_order(w, dash.is_late(w))
