"""A Gantt chart of a plan version for planners: one row per machine, one bar per
operation coloured by work order, late work orders outlined in red and named in the title,
frozen (running) operations hatched; with `people`, one more row per operator
("person: NAME") with a bar for each operation they attend. HTML is self-contained
(offline); PNG is rendered by kaleido when installed, else by a headless Chromium (Debian's
/usr/bin/chromium)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from microfactory.core.timeutil import zone
from microfactory.services.figures import write_figure
from microfactory.services.planning import PlanVersion


def gantt_figure(plan: PlanVersion, timezone: str = "UTC", *, people: bool = False) -> Any:
    """Times in the site's `timezone` (plotly shows wall time as given)."""
    import plotly.graph_objects as go

    tz = zone(timezone)

    def local(dt: datetime) -> datetime:
        return dt.astimezone(tz).replace(tzinfo=None)

    late = set(plan.late_work_orders)
    work_orders = sorted({op.work_order for op in plan.operations})
    palette = [
        "#4C78A8", "#F58518", "#54A24B", "#B279A2", "#9D755D",
        "#72B7B2", "#EECA3B", "#FF9DA6", "#BAB0AC", "#79706E",
    ]  # fmt: skip
    colour = {wo: palette[k % len(palette)] for k, wo in enumerate(work_orders)}
    fig = go.Figure()
    for wo in work_orders:
        ops = [op for op in plan.operations if op.work_order == wo]
        rows = [op.machine for op in ops]
        if people:
            attended = [op for op in ops if op.operator]
            rows += [f"person: {op.operator}" for op in attended]
            ops = ops + attended
        fig.add_trace(
            go.Bar(
                name=f"{wo} (late)" if wo in late else wo,
                y=rows,
                base=[local(op.start).isoformat() for op in ops],
                x=[(op.end - op.start).total_seconds() * 1000 for op in ops],
                orientation="h",
                marker={
                    "color": colour[wo],
                    "line": {
                        "color": "#D62728" if wo in late else "#333",
                        "width": 3 if wo in late else 0.5,
                    },
                    "pattern": {"shape": ["/" if op.frozen else "" for op in ops]},
                },
                customdata=[
                    [
                        op.operation,
                        local(op.start).strftime("%a %d %H:%M"),
                        local(op.end).strftime("%a %d %H:%M"),
                        local(op.due).strftime("%a %d %H:%M") if op.due else "-",
                        f"{op.machine}, {op.operator}" if op.operator else op.machine,
                    ]
                    for op in ops
                ],
                hovertemplate="%{customdata[0]} (%{customdata[4]})<br>%{customdata[1]} → "
                "%{customdata[2]}<br>due %{customdata[3]}<extra></extra>",
            )
        )
    late_text = ", ".join(sorted(late)) if late else "none"
    fig.update_layout(
        title=(
            f"Plan v{plan.version} ({plan.status}, {plan.solver}) — weighted tardiness "
            f"{plan.weighted_tardiness} — late work orders: {late_text}"
        ),
        barmode="overlay",
        xaxis={"type": "date", "title": f"local time ({timezone})"},
        yaxis={
            "title": "machine / person" if people else "machine",
            "categoryorder": "category descending",
        },
        height=max(400, 40 * len(_rows(plan, people)) + 200),
        legend={"title": "work order"},
    )
    return fig


def _rows(plan: PlanVersion, people: bool) -> set[str]:
    rows = {op.machine for op in plan.operations}
    if people:
        rows |= {f"person: {op.operator}" for op in plan.operations if op.operator}
    return rows


def write_gantt(
    plan: PlanVersion, out: Path, timezone: str = "UTC", *, people: bool = False
) -> Path:
    """Write `out` as .html or .png."""
    return write_figure(gantt_figure(plan, timezone, people=people), out, width=1600)
