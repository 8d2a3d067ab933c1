"""Maintenance commands: train and predict with the model registry, and the C-MAPSS and AI4I
benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def bench_rul_cmd(
    train: Path = typer.Option(..., "--train", help="C-MAPSS train file (may be gzipped or xz)"),
    test: Path = typer.Option(..., "--test", help="C-MAPSS test file (may be gzipped or xz)"),
    rul: Path = typer.Option(..., "--rul", help="true RUL file, one value per test unit"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    predictions_out: Path | None = typer.Option(
        None, "--predictions-out", help="write one predicted RUL per line, in test-unit order"
    ),
    trees: int = typer.Option(800, "--trees", min=1, help="boosting rounds per model"),
    ensemble: int = typer.Option(3, "--ensemble", min=1, help="models in the seed ensemble"),
) -> None:
    """Remaining-useful-life benchmark (last cycle of each test unit; RMSE and NASA score)."""
    from microfactory.maintenance.benchmark import run_rul_benchmark

    result = run_rul_benchmark(train, test, rul, _fleet(trees, ensemble))
    if predictions_out is not None:
        predictions_out.write_text("".join(f"{p:.4f}\n" for p in result.predictions))
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


def _fleet(trees: int, ensemble: int) -> Any:
    from microfactory.maintenance.rul import FleetRULModel, RULRegressor

    return FleetRULModel(regressor=RULRegressor(n_estimators=trees, n_models=ensemble))


def bench_failures_cmd(
    data: Path = typer.Option(..., "--data", help="ai4i2020.csv (may be gzipped or xz)"),
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


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: MICROFACTORY_DATABASE_URL or sqlite)"),
]
NameOption = Annotated[str, typer.Option("--name", help="model name in the registry")]


def _render(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")


def _info(info: Any) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "kind": info.kind,
        "trained_on": info.trained_on,
        "created_at": info.created_at.isoformat(),
        "metrics": info.metrics,
    }


def train_cmd(
    train: Annotated[Path, typer.Option("--train", help="run-to-failure histories (C-MAPSS)")],
    test: Annotated[Path | None, typer.Option("--test", help="test histories")] = None,
    rul: Annotated[Path | None, typer.Option("--rul", help="true RUL of the test units")] = None,
    name: NameOption = "rul",
    trees: Annotated[int, typer.Option("--trees", min=1, help="boosting rounds per model")] = 800,
    ensemble: Annotated[
        int, typer.Option("--ensemble", min=1, help="models in the seed ensemble")
    ] = 3,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Train a RUL model and register it as the next version of NAME."""
    from microfactory.cli.common import open_container
    from microfactory.core import SystemClock
    from microfactory.services.maintenance import train_rul_model
    from microfactory.store.maintenance_tables import SqlModelRegistry

    container = open_container(db)
    try:
        registry = SqlModelRegistry(container.engine)
        info = train_rul_model(
            registry,
            train,
            SystemClock(),
            name=name,
            model=_fleet(trees, ensemble),
            test_path=test,
            rul_path=rul,
        )
    finally:
        container.close()
    _render(_info(info), as_json)


def predict_cmd(
    data: Annotated[Path, typer.Option("--data", help="histories to score (C-MAPSS layout)")],
    name: NameOption = "rul",
    version: Annotated[int | None, typer.Option("--version", help="default: latest")] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """RUL with an 80% interval at the last cycle of every unit, from a registered model."""
    from microfactory.cli.common import open_container
    from microfactory.services.maintenance import predict_rul
    from microfactory.store.maintenance_tables import SqlModelRegistry

    container = open_container(db)
    try:
        info, predictions = predict_rul(
            SqlModelRegistry(container.engine), data, name=name, version=version
        )
    finally:
        container.close()
    result = {
        "model": f"{info.name} v{info.version}",
        "predictions": [
            {
                "unit": p.unit,
                "rul": round(p.rul, 2),
                "lower": round(p.lower, 2),
                "upper": round(p.upper, 2),
            }
            for p in predictions
        ],
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"model: {result['model']}")
    for p in predictions:
        typer.echo(f"unit {p.unit}: RUL {p.rul:.1f} ({p.lower:.1f}-{p.upper:.1f})")


def models_cmd(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """List the registered models."""
    from microfactory.cli.common import open_container
    from microfactory.store.maintenance_tables import SqlModelRegistry

    container = open_container(db)
    try:
        infos = SqlModelRegistry(container.engine).list()
    finally:
        container.close()
    rows = [_info(i) | {"size_bytes": i.size_bytes} for i in infos]
    if as_json:
        typer.echo(json.dumps({"models": rows}))
        return
    for r in rows:
        typer.echo(f"{r['name']} v{r['version']} ({r['kind']}) {r['created_at']} {r['metrics']}")


maintenance_app = typer.Typer(
    help="Maintenance: what is due, and predictive maintenance models.", no_args_is_help=True
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    maintenance_app.command("train")(train_cmd)
    maintenance_app.command("predict")(predict_cmd)
    maintenance_app.command("models")(models_cmd)
    app.add_typer(maintenance_app, name="maintenance")
    bench.command("rul")(bench_rul_cmd)
    bench.command("failures")(bench_failures_cmd)
