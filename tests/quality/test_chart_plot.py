"""Plotly rendering: violations are marked; PNG without kaleido fails with a clear error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from microfactory.core.errors import MicrofactoryError, ValidationError
from microfactory.quality.chart_plot import chart_figure, write_chart
from microfactory.quality.variables_charts import imr_chart


def result_with_violation() -> object:
    return imr_chart([0.0, 0.1, -0.1, 0.05, 0.0, 0.1, -0.05, 5.0, 0.0, 0.02])


def test_violations_are_a_marked_trace_with_their_rule_ids() -> None:
    fig = chart_figure(result_with_violation())  # type: ignore[arg-type]
    marked = [t for t in fig.data if t.name == "i violations"]
    assert len(marked) == 1
    assert list(marked[0].x) == [7]
    assert "nelson-1" in marked[0].text[0]


def test_html_output_is_self_contained(tmp_path: Path) -> None:
    path = write_chart(result_with_violation(), tmp_path / "c.html")  # type: ignore[arg-type]
    text = path.read_text(encoding="utf-8")
    assert "plotly" in text and "i violations" in text


def test_unknown_extension_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\.html or \.png"):
        write_chart(result_with_violation(), tmp_path / "c.svg")  # type: ignore[arg-type]


@pytest.mark.skipif(
    importlib.util.find_spec("kaleido") is not None, reason="kaleido is installed here"
)
def test_png_without_kaleido_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(MicrofactoryError, match="kaleido"):
        write_chart(result_with_violation(), tmp_path / "c.png")  # type: ignore[arg-type]
