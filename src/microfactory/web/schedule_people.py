"""The schedule by person (`/schedule/people`): one lane per operator with their shifts as
a pale band and the parts of operations they attend on it (setup, run, unload; a shared
run hatched with its share), from 12 h ago to 3 days ahead like the machine Gantt; below
it, a table per operator (skills, next shift, next assignment) that reads at phone width.
`?version=N` shows an older plan version."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from microfactory.core.timeutil import zone
from microfactory.services.planning import PlanVersion
from microfactory.services.planning_people import PersonLane, PlanPeople, plan_people
from microfactory.web.pages import Ctx, PageUser, render

router = APIRouter(include_in_schema=False)

BEFORE = timedelta(hours=12)
AFTER = timedelta(days=3)
PART_COLOURS = {"setup": "#E69F00", "run": "#0072B2", "unload": "#56B4E9"}  # Okabe-Ito
SHIFT_COLOUR = "rgba(0, 158, 115, 0.18)"


def people_chart(people: PlanPeople, now: datetime, timezone: str) -> str:
    """Plotly bars: a row per operator, a pale bar per shift, a bar per attended part."""
    tz = zone(timezone)

    def at(dt: datetime) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def ms(a: datetime, b: datetime) -> float:
        return (b - a).total_seconds() * 1000.0

    lanes = list(people.lanes)
    traces: list[dict[str, Any]] = []
    shifts = [(lane.operator, s, e) for lane in lanes for s, e in lane.shifts]
    if shifts:
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "on shift",
                "y": [who for who, _, _ in shifts],
                "base": [at(s) for _, s, _ in shifts],
                "x": [ms(s, e) for _, s, e in shifts],
                "width": 0.9,
                "marker": {"color": SHIFT_COLOUR, "line": {"width": 0}},
                "hovertemplate": "on shift %{base} → %{customdata}<extra></extra>",
                "customdata": [at(e) for _, _, e in shifts],
            }
        )
    for part, colour in PART_COLOURS.items():
        chosen = [(lane, a) for lane in lanes for a in lane.assignments if a.part == part]
        if not chosen:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": part,
                "y": [lane.operator for lane, _ in chosen],
                "base": [at(a.start) for _, a in chosen],
                "x": [ms(a.start, a.end) for _, a in chosen],
                "text": [a.operation for _, a in chosen],
                "width": 0.5,
                "customdata": [
                    [a.work_order, a.machine, at(a.start), at(a.end), a.share] for _, a in chosen
                ],
                "hovertemplate": "%{text} " + part + " (%{customdata[4]} % of the person)"
                "<br>work order %{customdata[0]} on %{customdata[1]}"
                "<br>%{customdata[2]} → %{customdata[3]}<extra></extra>",
                "marker": {
                    "color": colour,
                    "pattern": {"shape": ["/" if a.share < 100 else "" for _, a in chosen]},
                    "line": {"color": "#ffffff", "width": 0.5},
                },
                "textposition": "none",
            }
        )
    ids = [lane.operator for lane in lanes]
    layout = {
        "barmode": "overlay",
        "height": max(320, 34 * len(lanes) + 120),
        "margin": {"l": 10, "r": 10, "t": 40, "b": 50},
        "xaxis": {
            "type": "date",
            "title": {"text": f"local time ({timezone})"},
            "range": [at(max(people.start, now - BEFORE)), at(min(people.end, now + AFTER))],
        },
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(ids)),
            "tickvals": ids,
            "ticktext": [lane.name for lane in lanes],
            "range": [-0.5, len(ids) - 0.5],
            "automargin": True,
        },
        "legend": {"orientation": "h", "y": 1.1},
        "shapes": [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at(now),
                "x1": at(now),
                "y0": 0,
                "y1": 1,
                "line": {"color": "#000000", "width": 2, "dash": "dash"},
            }
        ],
    }
    return json.dumps({"data": traces, "layout": layout}, separators=(",", ":"))


def next_shift(lane: PersonLane, now: datetime) -> tuple[datetime, datetime] | None:
    """The shift going on at `now`, else the next one in the view."""
    return next(((s, e) for s, e in lane.shifts if e > now), None)


def _load(ctx: Any, version: int | None, now: datetime) -> tuple[PlanVersion, PlanPeople] | None:
    plan = ctx.planning.current() if version is None else ctx.planning.version(version)
    if plan is None:
        return None
    return plan, plan_people(ctx.uow, plan, now - BEFORE, now + AFTER)


@router.get("/schedule/people")
async def people_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    now = ctx.clock.now()
    loaded = await run_in_threadpool(_load, ctx, version, now)
    plan, people = loaded if loaded is not None else (None, None)
    shown = sum(len(lane.assignments) for lane in people.lanes) if people else 0
    return await render(
        request,
        "schedule_people.html",
        user,
        plan=plan,
        people=people,
        figure=people_chart(people, now, ctx.timezone) if people and people.lanes else None,
        shown=shown,
        now=now,
        next_shift=next_shift,
    )
