"""`microfactory spc` and `microfactory quality capability` through the real entry point."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from microfactory.cli.main import main

PISTON_CSV = Path(__file__).resolve().parent / "data" / "pistonrings.csv"


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> object:
    """Run the real entry point in-process (exit codes mapped by `main`)."""

    def run(*args: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["microfactory", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def test_spc_xbar_r_json_has_the_documented_shape(run_cli: Any) -> None:
    proc = run_cli("spc", "--chart", "xbar-r", "--data", str(PISTON_CSV), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["chart"] == "xbar-r" and out["subgroup_size"] == 5
    assert [c["name"] for c in out["charts"]] == ["xbar", "r"]
    xbar = out["charts"][0]
    assert set(xbar) >= {"name", "center", "ucl", "lcl", "points", "violations"}
    assert len(xbar["points"]) == 40
    # All 40 samples estimate the limits here; samples 37-39 still exceed the UCL.
    beyond = [v["index"] for v in xbar["violations"] if v["rule"] == "nelson-1"]
    assert beyond == [37, 38]


def test_spc_p_chart_with_sizes_and_western_electric_rules(run_cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    data.write_text("value,size\n3,50\n8,100\n5,80\n2,40\n30,60\n", encoding="utf-8")
    proc = run_cli(
        "spc", "--chart", "p", "--data", str(data), "--rules", "western-electric", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (p,) = out["charts"]
    assert isinstance(p["ucl"], list) and len(p["ucl"]) == 5
    assert {v["rule"] for v in p["violations"]} <= {"we-1", "we-2", "we-3", "we-4"}
    assert {"rule": "we-1", "index": 4} in p["violations"]


def test_spc_bad_csv_exits_2_naming_the_line(run_cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("value\n1.0\n2.0\noops\n", encoding="utf-8")
    proc = run_cli("spc", "--chart", "imr", "--data", str(data), "--json")
    assert proc.returncode == 2
    assert f"{data}:4" in proc.stderr and "'value'" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chart", "bogus"], "unknown chart type"),  # not a chart
        (["--chart", "xbar-r", "--subgroup-size", "3"], "do not split"),  # 40 rows / 3
        (["--chart", "imr", "--rules", "nelson-12"], "unknown rule"),  # no such rule
    ],
)
def test_spc_bad_options_exit_2(
    run_cli: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    data = tmp_path / "v.csv"
    data.write_text("value\n" + "\n".join(str(v) for v in range(40)) + "\n", encoding="utf-8")
    proc = run_cli("spc", "--data", str(data), *args, "--json")
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr


def test_quality_capability_json(run_cli: Any, tmp_path: Path) -> None:
    proc = run_cli(
        "quality", "capability", "--data", str(PISTON_CSV), "--lsl", "73.95", "--usl", "74.05",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 200
    assert {"cp", "cpk", "pp", "ppk", "cpm", "intervals", "normality"} <= set(out)
    assert out["intervals"]["cp"]["low"] < out["cp"] < out["intervals"]["cp"]["high"]


def test_spc_writes_an_html_chart(run_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "chart.html"
    proc = run_cli("spc", "--chart", "xbar-r", "--data", str(PISTON_CSV), "--plot", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000


def test_spc_limits_from_a_reference_file_are_frozen(run_cli: Any, tmp_path: Path) -> None:
    rows = PISTON_CSV.read_text(encoding="utf-8").splitlines()
    phase_one, phase_two = tmp_path / "p1.csv", tmp_path / "p2.csv"
    phase_one.write_text("\n".join(rows[: 1 + 125]) + "\n", encoding="utf-8")
    phase_two.write_text("\n".join([rows[0], *rows[1 + 125 :]]) + "\n", encoding="utf-8")
    proc = run_cli(
        "spc", "--chart", "xbar-r", "--data", str(phase_two), "--limits-from", str(phase_one),
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    xbar = json.loads(proc.stdout)["charts"][0]
    # Montgomery's Phase II: samples 37-39 (indices 11-13 of the 15 new samples) beyond 74.0143.
    assert xbar["ucl"] == pytest.approx(74.01431, abs=1e-5)
    assert [v["index"] for v in xbar["violations"] if v["rule"] == "nelson-1"] == [11, 12, 13]
