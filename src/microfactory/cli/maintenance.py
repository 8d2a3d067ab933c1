"""Maintenance commands: the C-MAPSS and AI4I benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def bench_rul_cmd(
    train: Path = typer.Option(..., "--train", help="C-MAPSS train file (may be gzipped)"),
    test: Path = typer.Option(..., "--test", help="C-MAPSS test file (may be gzipped)"),
    rul: Path = typer.Option(..., "--rul", help="true RUL file, one value per test unit"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    predictions_out: Path | None = typer.Option(
        None, "--predictions-out", help="write one predicted RUL per line, in test-unit order"
    ),
) -> None:
    """Remaining-useful-life benchmark (last cycle of each test unit; RMSE and NASA score)."""
    from microfactory.maintenance.benchmark import run_rul_benchmark

    result = run_rul_benchmark(train, test, rul)
    if predictions_out is not None:
        predictions_out.write_text("".join(f"{p:.4f}\n" for p in result.predictions))
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


def bench_failures_cmd(
    data: Path = typer.Option(..., "--data", help="ai4i2020.csv"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """AI4I 2020 machine-failure benchmark (stratified 5-fold, seed 0)."""
    from microfactory.maintenance.benchmark import run_failure_benchmark

    summary = run_failure_benchmark(data)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    bench.command("rul")(bench_rul_cmd)
    bench.command("failures")(bench_failures_cmd)
