"""Spreadsheet downloads: `/export/{kind}.{csv|xlsx}` for orders, plans, oee, spc and stock
(linked from the orders, schedule, overview, quality and materials pages). The OEE window is
the last 30 days up to the shop's now unless `from` / `to` (RFC 3339) say otherwise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from microfactory.api.context import ApiContext
from microfactory.api.deps import context
from microfactory.core.errors import NotFound
from microfactory.core.timeutil import parse_rfc3339
from microfactory.services.exports import MEDIA_TYPES, check_format, check_kind
from microfactory.web.pages import PageUser

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]


@router.get("/export/{kind}.{fmt}")
async def export_download(
    kind: str,
    fmt: str,
    user: PageUser,
    ctx: Ctx,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    check_kind(kind)
    check_format(fmt)
    if ctx.exports is None:
        raise NotFound("exports are not available on this server")
    data = await run_in_threadpool(
        ctx.exports.export,
        kind,
        fmt,
        start=parse_rfc3339(start) if start else None,
        end=parse_rfc3339(end) if end else None,
    )
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
