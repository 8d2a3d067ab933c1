"""The benchmark commands' JSON contract (DESIGN.md), on small subsets of the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microfactory.cli.main import app
from microfactory.core import ValidationError
from microfactory.core.files import read_data_text

runner = CliRunner()


def _first_units(src: Path, dst: Path, units: int) -> Path:
    keep = [line for line in read_data_text(src).splitlines() if int(line.split()[0]) <= units]
    dst.write_text("\n".join(keep) + "\n")
    return dst


def test_bench_rul_prints_the_contract_fields(cmapss_dir: Path, tmp_path: Path) -> None:
    train = _first_units(cmapss_dir / "train_FD001.txt.xz", tmp_path / "train.txt", 4)
    test = _first_units(cmapss_dir / "test_FD001.txt.xz", tmp_path / "test.txt", 3)
    rul = tmp_path / "rul.txt"
    rul.write_text("\n".join((cmapss_dir / "RUL_FD001.txt").read_text().split()[:3]) + "\n")
    out = tmp_path / "pred.txt"
    result = runner.invoke(
        app,
        [
            "bench",
            "rul",
            "--train",
            str(train),
            "--test",
            str(test),
            "--rul",
            str(rul),
            "--json",
            "--predictions-out",
            str(out),
            "--trees",
            "40",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {"rmse", "score", "n_units", "train_seconds", "model", "rmse_unclipped"} <= set(summary)
    assert summary["n_units"] == 3
    assert len(out.read_text().splitlines()) == 3


def test_bench_rul_rejects_a_short_rul_file(cmapss_dir: Path, tmp_path: Path) -> None:
    rul = tmp_path / "rul.txt"
    rul.write_text("10\n")
    test = _first_units(cmapss_dir / "test_FD001.txt.xz", tmp_path / "test.txt", 2)
    result = runner.invoke(
        app,
        ["bench", "rul", "--train", str(test), "--test", str(test), "--rul", str(rul), "--json"],
    )
    assert isinstance(result.exception, ValidationError)


@pytest.mark.parametrize("rows", [2500])
def test_bench_failures_prints_the_contract_fields(
    ai4i_csv: Path, tmp_path: Path, rows: int
) -> None:
    lines = read_data_text(ai4i_csv, encoding="utf-8-sig").splitlines()
    data = tmp_path / "ai4i.csv"
    data.write_text("\n".join(lines[: rows + 1]) + "\n")
    result = runner.invoke(app, ["bench", "failures", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {"precision", "recall", "f1", "pr_auc"} <= set(summary)
    assert summary["f1"] > 0.8
