"""The capacity page (`/capacity`): hours per machine against available hours, per day and
per week — worked before now, planned from now on — and the bottleneck named in words;
`?days=N` (1–42) days ahead, `?back=N` (0–42) days back."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from microfactory.api.context import ApiContext
from microfactory.services.capacity import CapacityView, read_capacity
from microfactory.web.pages import Ctx, PageUser, render

router = APIRouter(include_in_schema=False)

OK, BUSY, OVER = "#009E73", "#E69F00", "#D55E00"
BOTTLENECK_LOAD = 0.7
"""The most loaded machine is called the bottleneck from this load on."""


def load_chart(view: CapacityView) -> str:
    """Plotly heat map: one row per machine, one column per day, colour = load (capped at
    150 %); the hover text gives planned and available hours."""
    machines = list(view.machines)
    days = [d.label for d in machines[0].days] if machines else []
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for m in machines:
        row: list[float | None] = []
        hover: list[str] = []
        for d in m.days:
            load = d.load
            row.append(None if load is None else round(min(load, 1.5) * 100, 1))
            hover.append(
                f"{m.machine} {d.label}: {d.planned_h:.1f} h worked or planned"
                f" of {d.available_h:.1f} h" + ("" if load is None else f" ({load:.0%})")
            )
        z.append(row)
        text.append(hover)
    fig = {
        "data": [
            {
                "type": "heatmap",
                "x": days,
                "y": [m.machine for m in machines],
                "z": z,
                "text": text,
                "hoverinfo": "text",
                "zmin": 0,
                "zmax": 150,
                "colorscale": [[0, "#f3f7f5"], [0.4, OK], [0.62, BUSY], [0.67, OVER], [1, OVER]],
                "colorbar": {"title": {"text": "load %"}, "ticksuffix": " %"},
            }
        ],
        "layout": {
            "margin": {"l": 70, "r": 10, "t": 10, "b": 60},
            "height": 60 + 26 * len(machines),
            "yaxis": {"autorange": "reversed"},
            "xaxis": {"type": "category"},
        },
    }
    return json.dumps(fig, separators=(",", ":"))


def shared_view(ctx: ApiContext, days: int, back: int) -> tuple[CapacityView, str | None]:
    """The page's view and heat map for `days` ahead and `back` days back, shared by every
    viewer for the context cache's lifetime (a change through this process clears it)."""

    def compute() -> tuple[CapacityView, str | None]:
        view = read_capacity(ctx.uow, ctx.clock.now(), days, back)
        return view, load_chart(view) if view.machines else None

    return ctx.cache.get(f"capacity-page:{days}:{back}", compute)


@router.get("/capacity")
async def capacity_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=42)] = 14,
    back: Annotated[int, Query(ge=0, le=42)] = 14,
) -> HTMLResponse:
    view, figure = await run_in_threadpool(shared_view, ctx, days, back)
    return await render(
        request,
        "capacity.html",
        user,
        view=view,
        days=days,
        back=back,
        bottleneck=view.bottleneck,
        busy=BOTTLENECK_LOAD,
        figure=figure,
    )
