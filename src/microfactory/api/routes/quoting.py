"""Instant quotes from uploaded 3D models (price and a capacity-aware date), accepting them
into orders, and the customer's read-only tracking link: `/api/v1/track/{token}` (JSON) and
the page `/track/{token}` (HTML). Tracking needs no login: the unguessable token is the key,
and the view carries no prices and no customer id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import Allow, context, note_detail
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import to_rfc3339
from microfactory.services.quoting import QuoteService

UPLOAD_PATH = "/api/v1/quotes"
MULTIPART_SLACK = 64 * 1024
"""Bytes allowed on top of the model size for the multipart envelope and form fields."""

ALLOW_QUOTES_READ = Allow(Permission.QUOTES_READ)
ALLOW_QUOTES_WRITE = Allow(Permission.QUOTES_WRITE)

router = APIRouter(tags=["quotes"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_QUOTES_READ)]
Writer = Annotated[User, Depends(ALLOW_QUOTES_WRITE)]


class AcceptBody(BaseModel):
    customer: str | None = Field(
        default=None, min_length=1, max_length=64, description="customer id (else the quote's)"
    )


def quotes(ctx: ApiContext) -> QuoteService:
    service: QuoteService = ctx.quotes
    return service


def upload_limit(service: QuoteService) -> int:
    """The request body limit of the upload route: the model limit plus the envelope."""
    return service.settings.limits.max_file_bytes + MULTIPART_SLACK


@router.post(
    "/quotes",
    status_code=201,
    response_model=dict[str, Any],
    summary="Quote an uploaded 3D model (STL, 3MF, OBJ): price and promised date",
)
async def create_quote(
    request: Request,
    user: Writer,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="the model: .stl, .3mf or .obj")],
    material: Annotated[str, Form(min_length=1, max_length=64)],
    quantity: Annotated[int, Form(ge=1, le=100_000)] = 1,
    customer: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    units: Annotated[str | None, Form(min_length=1, max_length=16)] = None,
) -> dict[str, Any]:
    service = quotes(ctx)
    limit = service.settings.limits.max_file_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"the model is over the {limit}-byte upload limit", where="file")
    name = file.filename or "upload"
    response = await run_in_threadpool(
        service.quote_upload,
        data,
        name,
        material=material,
        quantity=quantity,
        customer=customer,
        units=units,
    )
    note_detail(request, f"quote {response.quote_id}")
    return {**response.to_dict(), "status": "held"}


@router.get(
    "/quotes",
    response_model=list[dict[str, Any]],
    summary="Recent quotes, newest first, with their state (held, sent, accepted, expired)",
)
def list_quotes(
    user: Reader, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    return [
        {k: to_rfc3339(v) if isinstance(v, datetime) else v for k, v in row.items()}
        for row in quotes(ctx).recent(limit)
    ]


@router.post(
    "/quotes/{quote_id}/send",
    response_model=dict[str, Any],
    summary="Mark a held quote as sent to its customer (it keeps its reserved capacity)",
)
def send_quote(quote_id: str, request: Request, user: Writer, ctx: Ctx) -> dict[str, Any]:
    note_detail(request, f"quote {quote_id} sent")
    return quotes(ctx).send(quote_id)


@router.get("/quotes/{quote_id}", response_model=dict[str, Any], summary="A stored quote")
def get_quote(quote_id: str, user: Reader, ctx: Ctx) -> dict[str, Any]:
    return quotes(ctx).get(quote_id)


@router.post(
    "/quotes/{quote_id}/accept",
    status_code=201,
    response_model=dict[str, Any],
    summary="Accept a held quote: a released order, replanned; gives the tracking link",
)
def accept_quote(
    quote_id: str, request: Request, user: Writer, ctx: Ctx, body: AcceptBody | None = None
) -> dict[str, Any]:
    accepted = quotes(ctx).accept(quote_id, customer=body.customer if body else None)
    dash = ctx.dashboard
    if dash is not None:
        dash.invalidate()
    note_detail(request, f"quote {quote_id} -> order {accepted.order_id}")
    return {**accepted.to_dict(), "tracking_url": f"/track/{accepted.tracking_token}"}


@router.get(
    "/track/{token}",
    response_model=dict[str, Any],
    summary="Customer tracking (public: the token is the key; no prices, no customer id)",
    openapi_extra={"security": []},
)
def track(token: str, ctx: Ctx) -> dict[str, Any]:
    return quotes(ctx).track(token).to_dict()
