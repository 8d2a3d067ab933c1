"""The hub's fleet view over the network of sites (read-only): status per site, an overview,
and the fleet-view tables with a site filter. Served by `microfactory serve --db HUB_URL`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from microfactory.access import User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_READ, context
from microfactory.services.network import (
    FLEET_VIEWS,
    FleetReader,
    fleet_overview,
    fleet_view,
    network_status,
)

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
SiteFilter = Annotated[str | None, Query(max_length=32, description="one site only")]


def _hub(ctx: Ctx) -> FleetReader:
    hub: FleetReader = ctx.extras["network_hub"]
    return hub


@router.get("/network/sites", tags=["network"], summary="Sites: last event, lag, events")
def sites(user: Reader, hub: Annotated[FleetReader, Depends(_hub)]) -> dict[str, Any]:
    return network_status(hub)  # type: ignore[arg-type]


@router.get("/network/overview", tags=["network"], summary="The network overview per site")
def overview(user: Reader, hub: Annotated[FleetReader, Depends(_hub)]) -> dict[str, Any]:
    return fleet_overview(hub)


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
