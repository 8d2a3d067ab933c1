"""The factory, its machines, products and customers, and the dashboard overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from microfactory.access import User
from microfactory.api import convert
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_READ, context
from microfactory.services.dashboard import DashboardService

router = APIRouter(tags=["factory"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]


def dashboard(ctx: Ctx) -> DashboardService:
    service: DashboardService = ctx.dashboard
    return service


Dash = Annotated[DashboardService, Depends(dashboard)]


@router.get("/factory", response_model=s.FactoryPublic, summary="The loaded factory")
def get_factory(user: Reader, dash: Dash) -> s.FactoryPublic:
    f = dash.factory()
    return s.FactoryPublic(
        site=f.site.id,
        name=f.site.name,
        timezone=f.site.timezone,
        currency=f.site.currency,
        areas=[{"id": a.id, "name": a.name} for a in f.areas],
        machines=len(f.machines),
        products=[p.id for p in f.products],
        materials=[m.id for m in f.materials],
    )


@router.get("/overview", response_model=s.Overview, summary="Dashboard overview")
def overview(user: Reader, dash: Dash) -> s.Overview:
    o = dash.overview()
    return s.Overview(
        site=o.site,
        now=o.now,
        machines=[convert.machine(c) for c in o.machines],
        state_counts=o.state_counts,
        order_counts=o.order_counts,
        late_orders=o.late_orders,
        open_alerts=o.open_alerts,
        oee_today=o.oee_today,
    )


@router.get("/machines", response_model=list[s.MachinePublic], summary="Machines with state")
def machines(user: Reader, dash: Dash) -> list[s.MachinePublic]:
    return [convert.machine(c) for c in dash.machine_cards()]


@router.get("/machines/{machine_id}", response_model=s.MachinePublic, summary="One machine")
def machine(machine_id: str, user: Reader, dash: Dash) -> s.MachinePublic:
    return convert.machine(dash.machine(machine_id))


@router.get("/products", response_model=list[s.ProductPublic], summary="Products")
def products(user: Reader, dash: Dash) -> list[s.ProductPublic]:
    return [convert.product(p) for p in dash.factory().products]


@router.get("/customers", response_model=list[s.CustomerPublic], summary="Customers")
def customers(user: Reader, dash: Dash) -> list[s.CustomerPublic]:
    return [s.CustomerPublic(id=c.id, name=c.name, segment=c.segment) for c in dash.customers()]
