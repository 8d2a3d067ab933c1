"""The hub's fleet view over the network of sites (read-only): status per site, an overview,
and the fleet-view tables with a site filter. Served by `microfactory serve --db HUB_URL`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_READ, Allow, context, note_detail
from microfactory.core.errors import Conflict, ConnectorError, ValidationError
from microfactory.services.network import (
    FLEET_VIEWS,
    FleetReader,
    NetworkQuoter,
    fleet_overview,
    fleet_view,
    network_status,
)

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
Writer = Annotated[User, Depends(Allow(Permission.QUOTES_WRITE))]
SiteFilter = Annotated[str | None, Query(max_length=32, description="one site only")]


def _hub(ctx: Ctx) -> FleetReader:
    if ctx.network_hub is None:
        raise ConnectorError("this server has no hub store")
    return ctx.network_hub


@router.get("/network/sites", tags=["network"], summary="Sites: last event, lag, events")
def sites(user: Reader, hub: Annotated[FleetReader, Depends(_hub)]) -> dict[str, Any]:
    return network_status(hub)  # type: ignore[arg-type]


@router.get("/network/overview", tags=["network"], summary="The network overview per site")
def overview(user: Reader, hub: Annotated[FleetReader, Depends(_hub)]) -> dict[str, Any]:
    return fleet_overview(hub)


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    quote_id: Annotated[str, Field(min_length=1, max_length=64)]
    customer: Annotated[str | None, Field(min_length=1, max_length=64)] = None


async def _with_quoter(ctx: ApiContext, work: Any) -> dict[str, Any]:
    make = ctx.network_link
    if make is None or ctx.network_hub is None:  # a state of this server, not an outage
        raise Conflict("this server is not a network hub: set MICROFACTORY_NATS_URL")
    link = make()
    await link.connect()
    try:
        result: dict[str, Any] = await work(NetworkQuoter(link, ctx.network_hub))
    finally:
        await link.close()
    return result


@router.post(
    "/network/quote",
    tags=["network"],
    summary="Ask every site for its quote (one offer per site, a recommendation)",
)
async def network_quote(
    request: Request,
    user: Writer,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="the model: .stl, .3mf or .obj")],
    material: Annotated[str, Form(min_length=1, max_length=64)],
    quantity: Annotated[int, Form(ge=1, le=100_000)] = 1,
    customer: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
    deadline_s: Annotated[float, Form(gt=0, le=30)] = 1.5,
) -> dict[str, Any]:
    limit = ctx.body_limits.get("/api/v1/network/quote", 64 * 1024 * 1024)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"the model is over the {limit}-byte upload limit", where="file")
    name = file.filename or "upload"

    async def ask(quoter: NetworkQuoter) -> dict[str, Any]:
        return await quoter.quote(
            data,
            name,
            material=material,
            quantity=quantity,
            customer=customer,
            deadline_s=deadline_s,
        )

    result = await _with_quoter(ctx, ask)
    note_detail(request, f"network quote {result['request']}")
    return result


@router.post(
    "/network/route",
    status_code=201,
    tags=["network"],
    summary="Route an accepted offer to its site (durable: an offline site takes it later)",
)
async def network_route(request: Request, body: RouteIn, user: Writer, ctx: Ctx) -> dict[str, Any]:
    async def send(quoter: NetworkQuoter) -> dict[str, Any]:
        return await quoter.route(body.site, body.quote_id, body.customer)

    routed = await _with_quoter(ctx, send)
    note_detail(request, f"quote {body.quote_id} routed to {body.site}")
    return routed


@router.get(
    "/network/{view}",
    tags=["network"],
    summary=f"A fleet-view table: {', '.join(FLEET_VIEWS)}",
)
def view(
    view: str,
    user: Reader,
    hub: Annotated[FleetReader, Depends(_hub)],
    site: SiteFilter = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    return fleet_view(hub, view, site, limit)
