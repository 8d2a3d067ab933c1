"""Render a :class:`ChartResult` with Plotly: one panel per series, centre line and limits,
and every point that completes a rule violation marked in red with its rule ids.

HTML is self-contained (plotly.js embedded, works offline). PNG needs the optional
``kaleido`` package and a Chrome/Chromium it can drive; without them a clear error says so.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from microfactory.core.errors import MicrofactoryError, ValidationError
from microfactory.quality.chart_model import ChartResult


def chart_figure(result: ChartResult, title: str | None = None) -> Any:
    """A ``plotly.graph_objects.Figure`` for ``result``."""
    from plotly.subplots import make_subplots

    series = result.charts
    fig = make_subplots(
        rows=len(series),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[s.name for s in series],
    )
    for row, s in enumerate(series, start=1):
        x = np.arange(s.points.shape[0]) + s.index_offset
        fig.add_scatter(
            x=x, y=s.points, mode="lines+markers", name=s.name, row=row, col=1,
            line={"color": "#1f77b4"}, marker={"size": 5},
        )  # fmt: skip
        for label, values, dash in (("CL", s.center, "solid"), ("UCL", s.ucl, "dash"),
                                    ("LCL", s.lcl, "dash")):  # fmt: skip
            fig.add_scatter(
                x=x, y=values, mode="lines", name=f"{s.name} {label}", row=row, col=1,
                line={"color": "#2ca02c" if label == "CL" else "#d62728", "dash": dash,
                      "shape": "hv"},
                showlegend=False,
            )  # fmt: skip
        rules_at: dict[int, list[str]] = defaultdict(list)
        for v in s.violations:
            rules_at[v.index].append(v.rule)
        if rules_at:
            idx = np.array(sorted(rules_at))
            fig.add_scatter(
                x=idx + s.index_offset, y=s.points[idx], mode="markers",
                name=f"{s.name} violations", row=row, col=1,
                marker={"color": "#d62728", "size": 10, "symbol": "x"},
                text=[", ".join(rules_at[int(i)]) for i in idx],
                hovertemplate="point %{x}: %{text}<extra></extra>",
            )  # fmt: skip
    fig.update_layout(
        title=title or f"{result.chart} chart",
        height=320 * len(series),
        template="plotly_white",
    )
    return fig


def write_chart(result: ChartResult, path: str | Path, title: str | None = None) -> Path:
    """Write the chart to ``path``: ``.html`` always works, ``.png`` needs kaleido."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise ValidationError(f"chart output must end in .html or .png, got {out.name!r}")
    fig = chart_figure(result, title)
    if suffix == ".png":
        try:
            import kaleido  # noqa: F401
        except ImportError:
            raise MicrofactoryError(
                "PNG output needs the optional 'kaleido' package (pip install kaleido) and a "
                "Chrome/Chromium browser; write an .html file instead"
            ) from None
        try:
            fig.write_image(str(out), format="png")
        except Exception as exc:  # kaleido reports a missing browser in several ways
            raise MicrofactoryError(
                f"PNG export failed ({exc}); kaleido needs Chrome/Chromium; "
                "write an .html file instead"
            ) from None
        return out
    fig.write_html(str(out), include_plotlyjs=True, full_html=True)
    return out
