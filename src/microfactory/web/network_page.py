"""The network overview page of the hub (`/network`, `?site=ID` for one site): every site's
replication status and fleet figures, and one site's machines, orders and routed orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from microfactory.core.errors import ConnectorError
from microfactory.services.network import FleetReader, fleet_overview, fleet_view
from microfactory.web.pages import Ctx, PageUser, render

router = APIRouter(include_in_schema=False)


@router.get("/network")
async def network_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    site: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    hub: FleetReader | None = ctx.network_hub
    if hub is None:
        raise ConnectorError("this server has no hub store")
    overview = await run_in_threadpool(fleet_overview, hub)
    names = [s["site"] for s in overview["sites"]]
    chosen = site if site in names else None
    detail = {}
    if chosen is not None:
        for view in ("machines", "orders", "routes", "alerts"):
            detail[view] = await run_in_threadpool(fleet_view, hub, view, chosen, 200)
    return await render(
        request,
        "network.html",
        user,
        sites=overview["sites"]
        if chosen is None
        else [s for s in overview["sites"] if s["site"] == chosen],
        names=names,
        chosen=chosen,
        detail=detail,
    )
