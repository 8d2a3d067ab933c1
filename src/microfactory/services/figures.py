"""Write a Plotly figure for people: self-contained HTML (works offline, plotly.js inlined),
or PNG rendered by kaleido when it is installed, else by a headless Chromium (Debian's
/usr/bin/chromium, which the test setup installs). Used by the Gantt chart and the SPC
charts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from microfactory.core.errors import ConnectorError, ValidationError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def write_figure(fig: Any, out: Path | str, *, width: int = 1600) -> Path:
    """Write `out` as .html or .png (a ValidationError for any other suffix)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise ValidationError("the chart file must end in .html or .png", where=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix != ".png":
        fig.write_html(str(out), include_plotlyjs=True, full_html=True)
        return out
    try:
        import kaleido  # noqa: F401

        fig.write_image(str(out), width=width, height=fig.layout.height or 800)
        return out
    except ImportError:
        pass
    return _png_with_chromium(fig, out, width)


def chromium_path() -> str | None:
    browser = next((c for c in CHROMIUM_CANDIDATES if os.access(c, os.X_OK)), None)
    return browser or shutil.which("chromium")


def _png_with_chromium(fig: Any, out: Path, width: int) -> Path:
    browser = chromium_path()
    if browser is None:
        raise ConnectorError(
            "PNG export needs kaleido (pip install kaleido) or a Chromium browser "
            "(apt install chromium); write an .html file instead"
        )
    height = int(fig.layout.height or 800)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "chart.html"
        fig.write_html(str(page), include_plotlyjs=True, full_html=True,
                       config={"staticPlot": True})  # fmt: skip
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
            "--virtual-time-budget=10000", f"--screenshot={out.resolve()}", page.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConnectorError(f"Chromium could not render the chart: {exc}") from exc
    if not out.exists():
        raise ConnectorError("Chromium ran but wrote no PNG")
    return out
