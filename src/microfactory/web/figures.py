"""Plotly figures as JSON for the pages (drawn by the local plotly.js; no inline scripts).
Colours are Okabe–Ito; late bars and down states also carry a hatch pattern so they read
without colour."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from microfactory.core.timeutil import zone
from microfactory.services.dashboard_views import GanttBar, SeriesPoint, StateSegment

BLUE = "#0072B2"
VERMILLION = "#D55E00"
STATE_COLOURS = {
    "Executing": "#009E73",
    "NotExecuting": "#E69F00",
    "OutOfService": "#D55E00",
    "NotAvailable": "#7A7A7A",
}
STATE_PATTERNS = {"OutOfService": "x", "NotAvailable": "."}


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000.0


def _clock(timezone: str) -> Callable[[datetime], str]:
    """Times for plotly's date axes, which show wall time as given: the site's local time."""
    tz = zone(timezone)

    def at(dt: datetime) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    return at


def _dump(fig: dict[str, Any]) -> str:
    return json.dumps(fig, separators=(",", ":"))


def gantt(
    bars: Sequence[GanttBar], now: datetime, machines: Sequence[str], timezone: str = "UTC"
) -> str:
    """One horizontal bar per planned operation, a row per machine, a dashed now-line."""
    at = _clock(timezone)
    traces: list[dict[str, Any]] = []
    for late in (False, True):
        chosen = [b for b in bars if b.late == late]
        if not chosen:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "late work order" if late else "on time",
                "y": [b.machine for b in chosen],
                "base": [at(b.start) for b in chosen],
                "x": [_ms(b.start, b.end) for b in chosen],
                "text": [b.operation for b in chosen],
                "customdata": [
                    [
                        b.work_order,
                        at(b.start),
                        at(b.end),
                        at(b.due) if b.due else "—",
                    ]
                    for b in chosen
                ],
                "hovertemplate": "%{text}<br>work order %{customdata[0]}<br>"
                "%{customdata[1]} → %{customdata[2]}<br>due %{customdata[3]}<extra></extra>",
                "marker": {
                    "color": VERMILLION if late else BLUE,
                    "pattern": {"shape": "/" if late else ""},
                    "line": {"color": "#ffffff", "width": 0.5},
                },
                "textposition": "none",
            }
        )
    layout = {
        "barmode": "overlay",
        "height": max(320, 28 * len(machines) + 120),
        "xaxis": {"type": "date", "title": {"text": f"local time ({timezone})"}},
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(machines)),
            "range": [-0.5, len(machines) - 0.5],
            "automargin": True,
        },
        "legend": {"orientation": "h", "y": 1.08},
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
        "annotations": [
            {
                "x": at(now),
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": "now",
                "showarrow": False,
                "yanchor": "bottom",
            }
        ],
    }
    return _dump({"data": traces, "layout": layout})


def state_timeline(segments: Sequence[StateSegment], timezone: str = "UTC") -> str:
    at = _clock(timezone)
    traces: list[dict[str, Any]] = []
    for state, colour in STATE_COLOURS.items():
        chosen = [g for g in segments if g.state == state]
        if not chosen:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": state,
                "y": ["state"] * len(chosen),
                "base": [at(g.start) for g in chosen],
                "x": [_ms(g.start, g.end) for g in chosen],
                "text": [
                    f"{g.state} ({g.mode}){' · ' + g.reason if g.reason else ''}" for g in chosen
                ],
                "hovertemplate": "%{text}<extra></extra>",
                "textposition": "none",
                "marker": {
                    "color": colour,
                    "pattern": {"shape": STATE_PATTERNS.get(state, "")},
                },
            }
        )
    layout = {
        "barmode": "overlay",
        "height": 190,
        "xaxis": {"type": "date"},
        "yaxis": {"visible": False},
        "legend": {"orientation": "h", "y": 1.3},
    }
    return _dump({"data": traces, "layout": layout})


def sensor_chart(signal: str, points: Sequence[SeriesPoint], timezone: str = "UTC") -> str:
    at = _clock(timezone)
    times = [at(p.at) for p in points]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "max",
            "x": times,
            "y": [p.max for p in points],
            "line": {"width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "min–max",
            "x": times,
            "y": [p.min for p in points],
            "fill": "tonexty",
            "fillcolor": "rgba(0,114,178,0.2)",
            "line": {"width": 0},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"{signal} (mean)",
            "x": times,
            "y": [p.mean for p in points],
            "line": {"color": BLUE, "width": 2},
        },
    ]
    layout = {"height": 280, "xaxis": {"type": "date"}, "legend": {"orientation": "h", "y": 1.15}}
    return _dump({"data": traces, "layout": layout})


def control_chart(
    title: str,
    values: Sequence[float],
    centre: float,
    lcl: float,
    ucl: float,
    violations: Sequence[int],
) -> str:
    idx = list(range(1, len(values) + 1))
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": title,
            "x": idx,
            "y": list(values),
            "line": {"color": BLUE},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "rule violation",
            "x": [i + 1 for i in violations],
            "y": [values[i] for i in violations],
            "marker": {"color": VERMILLION, "size": 11, "symbol": "x"},
        },
    ]
    lines = [("UCL", ucl, "dash"), ("CL", centre, "solid"), ("LCL", lcl, "dash")]
    layout = {
        "height": 300,
        "xaxis": {"title": {"text": "subgroup"}},
        "legend": {"orientation": "h", "y": 1.15},
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": y,
                "y1": y,
                "line": {"color": "#444444", "dash": dash, "width": 1},
            }
            for _, y, dash in lines
        ],
        "annotations": [
            {"xref": "paper", "x": 1, "y": y, "text": name, "showarrow": False, "xanchor": "left"}
            for name, y, _ in lines
        ],
    }
    return _dump({"data": traces, "layout": layout})
