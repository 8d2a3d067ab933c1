"""A Gantt chart of a plan version for planners: one row per machine, one bar per
operation coloured by work order, late work orders outlined in red and named in the title,
frozen (running) operations hatched. HTML is self-contained (offline); PNG is rendered by
kaleido when installed, else by a headless Chromium (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.services.planning import PlanVersion

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def gantt_figure(plan: PlanVersion) -> Any:
    import plotly.graph_objects as go

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
        fig.add_trace(
            go.Bar(
                name=f"{wo} (late)" if wo in late else wo,
                y=[op.machine for op in ops],
                base=[op.start.isoformat() for op in ops],
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
                        op.start.strftime("%a %d %H:%M"),
                        op.end.strftime("%a %d %H:%M"),
                        op.due.strftime("%a %d %H:%M") if op.due else "-",
                    ]
                    for op in ops
                ],
                hovertemplate="%{customdata[0]}<br>%{customdata[1]} → %{customdata[2]}"
                "<br>due %{customdata[3]}<extra></extra>",
            )
        )
    late_text = ", ".join(sorted(late)) if late else "none"
    fig.update_layout(
        title=(
            f"Plan v{plan.version} ({plan.status}, {plan.solver}) — weighted tardiness "
            f"{plan.weighted_tardiness} — late work orders: {late_text}"
        ),
        barmode="overlay",
        xaxis={"type": "date", "title": "time (UTC)"},
        yaxis={"title": "machine", "categoryorder": "category descending"},
        height=max(400, 40 * len({op.machine for op in plan.operations}) + 200),
        legend={"title": "work order"},
    )
    return fig


def write_gantt(plan: PlanVersion, out: Path) -> Path:
    """Write `out` as .html or .png."""
    suffix = out.suffix.lower()
    if suffix not in (".html", ".png"):
        raise ValidationError("the chart file must end in .html or .png", where=str(out))
    fig = gantt_figure(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        fig.write_html(str(out), include_plotlyjs=True, full_html=True)
        return out
    try:
        import kaleido  # noqa: F401

        fig.write_image(str(out), width=1600, height=fig.layout.height or 800)
        return out
    except ImportError:
        pass
    return _png_with_chromium(fig, out)


def _png_with_chromium(fig: Any, out: Path) -> Path:
    browser = next((c for c in CHROMIUM_CANDIDATES if os.access(c, os.X_OK)), None)
    browser = browser or shutil.which("chromium")
    if browser is None:
        raise ConnectorError(
            "PNG export needs kaleido (pip install kaleido) or a Chromium browser "
            "(apt install chromium); use --out FILE.html instead"
        )
    height = int(fig.layout.height or 800)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "gantt.html"
        fig.write_html(str(page), include_plotlyjs=True, full_html=True,
                       config={"staticPlot": True})  # fmt: skip
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp}/profile", f"--window-size=1600,{height}",
            "--virtual-time-budget=10000", f"--screenshot={out.resolve()}", page.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConnectorError(f"Chromium could not render the chart: {exc}") from exc
    if not out.exists():
        raise ConnectorError("Chromium ran but wrote no PNG")
    return out
