"""Materials: stock by lot, receipts and adjustments (stores: operator or planner), the
ledger and CSV exports, the mass balance, MRP purchase suggestions, purchase orders
(placed by a planner, received by stores) and stock alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from microfactory.access import User
from microfactory.api.context import ApiContext
from microfactory.api.deps import (
    ALLOW_MATERIALS,
    ALLOW_PURCHASING,
    ALLOW_READ,
    context,
    note_detail,
)
from microfactory.core.timeutil import utc
from microfactory.orders import Factory
from microfactory.orders.stock import PurchaseStatus
from microfactory.services.factory import current_factory
from microfactory.services.materials import (
    MOVEMENT_COLUMNS,
    STOCK_CSV_COLUMNS,
    Receipt,
    adjust,
    mass_balance,
    movement_dict,
    receive,
    stock_rows,
    to_csv,
)
from microfactory.services.ports import UnitOfWork
from microfactory.services.purchasing import (
    PurchaseRequest,
    place_purchase_order,
    purchase_order_dict,
    receive_purchase_order,
    suggest,
    suggestion_dict,
)

router = APIRouter(tags=["materials"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
Stores = Annotated[User, Depends(ALLOW_MATERIALS)]
Buyer = Annotated[User, Depends(ALLOW_PURCHASING)]
T = TypeVar("T")
Id = Annotated[str, Field(min_length=1, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptIn(_In):
    material: Id
    lot: Id
    quantity: float
    unit: Annotated[str, Field(max_length=16)] | None = None
    supplier: Annotated[str, Field(max_length=200)] = ""
    cost: float | None = None
    expires: datetime | None = None
    location: Annotated[str, Field(max_length=64)] = ""


class AdjustmentIn(_In):
    lot: Id
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    delta: float | None = None
    count: float | None = None


class PurchaseOrderIn(_In):
    material: Id
    quantity: float
    supplier: Annotated[str, Field(max_length=200)] | None = None
    due: datetime | None = None
    note: Annotated[str, Field(max_length=500)] = ""


class PurchaseReceiptIn(_In):
    lot: Id | None = None
    quantity: float | None = None
    expires: datetime | None = None
    location: Annotated[str, Field(max_length=64)] = ""


class StockLotPublic(BaseModel):
    material: str
    lot: str
    quantity: float
    unit: str
    location: str
    expires: str | None
    supplier: str
    received: str | None
    cost: float | None
    purchase_order: str | None


class MovementPublic(BaseModel):
    id: int | None
    at: str
    kind: str
    material: str
    lot: str | None
    quantity: float
    unit: str
    work_order: str | None
    operation: str | None
    reason: str
    source: str


class SuggestionPublic(BaseModel):
    material: str
    supplier: str | None
    quantity: float
    order_by: str
    needed_by: str
    unit: str
    shortfall: float
    late: bool


class PurchaseOrderPublic(BaseModel):
    id: str
    material: str
    supplier: str
    quantity: float
    unit: str
    ordered: str
    due: str
    status: str
    received: str | None
    received_quantity: float | None
    lot: str | None
    price: float | None
    note: str


class BalancePublic(BaseModel):
    balanced: bool
    materials: list[dict[str, Any]]


def _read(ctx: ApiContext, work: Callable[[UnitOfWork, Factory], T]) -> T:
    with ctx.uow() as tx:
        return work(tx, current_factory(tx))


def _write(ctx: ApiContext, work: Callable[[UnitOfWork, Factory], T]) -> T:
    with ctx.uow() as tx:
        result = work(tx, current_factory(tx))
        tx.commit()
    ctx.cache.clear()
    return result


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/materials/stock", response_model=list[StockLotPublic], summary="Stock by lot")
def stock(
    user: Reader,
    ctx: Ctx,
    material: Annotated[str | None, Query(max_length=64)] = None,
    empty: Annotated[bool, Query(description="include empty lots")] = False,
) -> list[dict[str, Any]]:
    rows = _read(ctx, lambda tx, f: stock_rows(tx, f, with_empty=empty))
    return [r for r in rows if material is None or r["material"] == material]


@router.get("/materials/stock.csv", summary="Stock by lot as CSV", response_class=Response)
def stock_csv(user: Reader, ctx: Ctx) -> Response:
    rows = _read(ctx, lambda tx, f: stock_rows(tx, f, with_empty=True))
    return _csv(to_csv(rows, STOCK_CSV_COLUMNS), "stock.csv")


@router.get(
    "/materials/movements",
    response_model=list[MovementPublic],
    summary="The stock ledger (newest last)",
)
def movements(
    user: Reader,
    ctx: Ctx,
    material: Annotated[str | None, Query(max_length=64)] = None,
    lot: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 500,
) -> list[dict[str, Any]]:
    return _read(
        ctx,
        lambda tx, f: [
            movement_dict(m, f) for m in tx.stock.movements(material=material, lot=lot, limit=limit)
        ],
    )


@router.get("/materials/movements.csv", summary="The whole ledger as CSV", response_class=Response)
def movements_csv(user: Reader, ctx: Ctx) -> Response:
    rows = _read(ctx, lambda tx, f: [movement_dict(m, f) for m in tx.stock.movements()])
    return _csv(to_csv(rows, MOVEMENT_COLUMNS), "movements.csv")


@router.get("/materials/balance", response_model=BalancePublic, summary="Mass balance")
def balance(user: Reader, ctx: Ctx) -> BalancePublic:
    rows = _read(ctx, lambda tx, f: [b.as_dict() for b in mass_balance(tx, f)])
    return BalancePublic(balanced=all(r["balanced"] for r in rows), materials=rows)


@router.post(
    "/materials/receipts",
    response_model=StockLotPublic,
    status_code=201,
    summary="Receive a lot into stock",
)
def receive_lot(body: ReceiptIn, request: Request, user: Stores, ctx: Ctx) -> dict[str, Any]:
    note_detail(request, f"receipt {body.lot}")
    now = ctx.clock.now()
    receipt = Receipt(
        body.material,
        body.lot,
        body.quantity,
        body.unit,
        body.supplier,
        body.cost,
        None if body.expires is None else utc(body.expires),
        body.location,
    )

    def work(tx: UnitOfWork, f: Factory) -> dict[str, Any]:
        got = receive(tx, f, receipt, at=now, by=f"user:{user.username}")
        return next(r for r in stock_rows(tx, f, with_empty=True) if r["lot"] == got.id)

    return _write(ctx, work)


@router.post(
    "/materials/adjustments",
    response_model=StockLotPublic,
    status_code=201,
    summary="Correct a lot (signed delta or counted quantity) with a reason",
)
def adjust_lot(body: AdjustmentIn, request: Request, user: Stores, ctx: Ctx) -> dict[str, Any]:
    note_detail(request, f"adjustment {body.lot}")
    now = ctx.clock.now()

    def work(tx: UnitOfWork, f: Factory) -> dict[str, Any]:
        got = adjust(
            tx,
            f,
            body.lot,
            reason=body.reason,
            at=now,
            delta=body.delta,
            count=body.count,
            by=f"user:{user.username}",
        )
        return next(r for r in stock_rows(tx, f, with_empty=True) if r["lot"] == got.id)

    return _write(ctx, work)


@router.get(
    "/materials/suggestions",
    response_model=list[SuggestionPublic],
    summary="Purchase suggestions (MRP net requirements)",
)
def suggestions(
    user: Reader,
    ctx: Ctx,
    horizon_days: Annotated[float, Query(ge=1, le=366)] = 60.0,
) -> list[dict[str, Any]]:
    now = ctx.clock.now()
    return _read(
        ctx, lambda tx, f: [suggestion_dict(s, f) for s in suggest(tx, f, now, horizon_days)]
    )


@router.get(
    "/materials/purchase-orders",
    response_model=list[PurchaseOrderPublic],
    summary="Purchase orders by due date",
)
def purchase_orders(
    user: Reader, ctx: Ctx, status: Annotated[PurchaseStatus | None, Query()] = None
) -> list[dict[str, Any]]:
    return _read(
        ctx, lambda tx, f: [purchase_order_dict(po, f) for po in tx.purchases.find(status=status)]
    )


@router.post(
    "/materials/purchase-orders",
    response_model=PurchaseOrderPublic,
    status_code=201,
    summary="Place a purchase order",
)
def place_order(body: PurchaseOrderIn, request: Request, user: Buyer, ctx: Ctx) -> dict[str, Any]:
    now = ctx.clock.now()
    req = PurchaseRequest(
        body.material,
        body.quantity,
        body.supplier,
        None if body.due is None else utc(body.due),
        body.note,
    )
    row = _write(ctx, lambda tx, f: purchase_order_dict(place_purchase_order(tx, f, req, now), f))
    note_detail(request, f"purchase order {row['id']}")
    return row


@router.post(
    "/materials/purchase-orders/{po_id}/receive",
    response_model=PurchaseOrderPublic,
    summary="Receive a purchase order as a new lot",
)
def receive_order(
    po_id: str, body: PurchaseReceiptIn, request: Request, user: Stores, ctx: Ctx
) -> dict[str, Any]:
    note_detail(request, f"purchase order {po_id} received")
    now = ctx.clock.now()

    def work(tx: UnitOfWork, f: Factory) -> dict[str, Any]:
        po, _ = receive_purchase_order(
            tx,
            f,
            po_id,
            now,
            lot=body.lot,
            quantity=body.quantity,
            expires=None if body.expires is None else utc(body.expires),
            location=body.location,
            by=f"user:{user.username}",
        )
        return purchase_order_dict(po, f)

    return _write(ctx, work)
