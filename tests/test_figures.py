"""Charts for people: HTML always; PNG through kaleido or Debian's Chromium (browser tests)."""

import struct
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

from conftest import IN_CI
from microfactory.core import ValidationError
from microfactory.services.figures import chromium_path, write_figure

PISTON_CSV = Path(__file__).resolve().parent / "quality" / "data" / "pistonrings.csv"


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if IN_CI:
            pytest.fail("Chromium is missing (scripts/ensure-test-services.sh installs it)")
        pytest.skip("Chromium is not installed")
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_html_is_self_contained(tmp_path: Path) -> None:
    out = write_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), tmp_path / "c.html")
    text = out.read_text()
    assert "<html" in text and "Plotly.newPlot" in text
    assert 'src="http' not in text  # plotly.js inlined: no CDN, works offline


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\.html or \.png"):
        write_figure(go.Figure(), tmp_path / "c.svg")


@pytest.mark.browser
def test_png_is_rendered_at_the_asked_width(chromium: str, tmp_path: Path) -> None:
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))
    fig.update_layout(height=500)
    width, height = png_size(write_figure(fig, tmp_path / "c.png", width=900))
    assert (width, height) == (900, 500)


@pytest.mark.browser
def test_spc_command_writes_a_png_chart(chromium: str, tmp_path: Path) -> None:
    out = tmp_path / "xbar.png"
    proc = subprocess.run(
        [sys.executable, "-m", "microfactory", "spc", "--chart", "xbar-r", "--data",
         str(PISTON_CSV), "--subgroup-size", "5", "--plot", str(out)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    width, height = png_size(out)
    assert width == 1200 and height > 300
