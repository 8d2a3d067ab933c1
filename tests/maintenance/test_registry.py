"""Model registry round trip on SQLite and PostgreSQL, and train / predict through it."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from microfactory.bootstrap import bootstrap
from microfactory.cli.main import app
from microfactory.core import Conflict, FixedClock, NotFound, ValidationError
from microfactory.core.files import read_data_text
from microfactory.maintenance.cmapss import read_cmapss
from microfactory.maintenance.rul import FleetRULModel, RULRegressor
from microfactory.services.maintenance import predict_rul, train_rul_model
from microfactory.store.maintenance_tables import SqlModelRegistry

AT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
TINY = RULRegressor(n_estimators=40, learning_rate=0.1, n_models=1, interval_estimators=20)


def _units(src: Path, dst: Path, units: int) -> Path:
    keep = [line for line in read_data_text(src).splitlines() if int(line.split()[0]) <= units]
    dst.write_text("\n".join(keep) + "\n")
    return dst


def test_registry_round_trip(migrated_db_url: str) -> None:
    container = bootstrap(db_url=migrated_db_url)
    try:
        registry = SqlModelRegistry(container.engine)
        payload = pickle.dumps({"weights": [1.0, 2.0]})
        first = registry.register(
            name="rul",
            kind="fleet_rul",
            model=payload,
            trained_on="train_FD001.txt",
            data_digest="ab" * 32,
            metrics={"rmse": 11.1},
            params={"cap": 125},
            created_at=AT,
        )
        second = registry.register(
            name="rul",
            kind="fleet_rul",
            model=payload + b"x",
            trained_on="train_FD003.txt",
            data_digest="cd" * 32,
            metrics={"rmse": 9.6},
            params={},
            created_at=AT,
        )
        info, blob = registry.load("rul", 1)
        latest, _ = registry.load("rul")
        listed = registry.list()
    finally:
        container.close()
    assert (first.version, second.version) == (1, 2)
    assert blob == payload
    assert info.metrics == {"rmse": 11.1}
    assert info.created_at == AT
    assert info.size_bytes == len(payload)
    assert latest.version == 2 and latest.trained_on == "train_FD003.txt"
    assert [(i.name, i.version) for i in listed] == [("rul", 1), ("rul", 2)]


def test_missing_model_raises_not_found(sqlite_url: str) -> None:
    container = bootstrap(db_url=sqlite_url)
    try:
        with pytest.raises(NotFound):
            SqlModelRegistry(container.engine).load("absent")
    finally:
        container.close()


def test_empty_model_is_refused(sqlite_url: str) -> None:
    container = bootstrap(db_url=sqlite_url)
    try:
        with pytest.raises(ValidationError, match="empty"):
            SqlModelRegistry(container.engine).register(
                name="rul",
                kind="k",
                model=b"",
                trained_on="",
                data_digest="",
                metrics={},
                params={},
                created_at=AT,
            )
    finally:
        container.close()


def test_train_then_predict_through_the_registry(
    sqlite_url: str, cmapss_dir: Path, tmp_path: Path
) -> None:
    train = _units(cmapss_dir / "train_FD001.txt.xz", tmp_path / "train.txt", 8)
    test = _units(cmapss_dir / "test_FD001.txt.xz", tmp_path / "test.txt", 4)
    container = bootstrap(db_url=sqlite_url)
    try:
        registry = SqlModelRegistry(container.engine)
        model = FleetRULModel(regressor=TINY)
        info = train_rul_model(registry, train, FixedClock(AT), name="fd001", model=model)
        loaded, predictions = predict_rul(registry, test, name="fd001")
        expected = model.predict_last(read_cmapss(test))
    finally:
        container.close()
    assert info.version == loaded.version == 1
    assert info.metrics["n_train_units"] == 8
    assert [p.unit for p in predictions] == [1, 2, 3, 4]
    np.testing.assert_allclose([p.rul for p in predictions], expected[0])
    assert all(p.lower <= p.rul <= p.upper for p in predictions)


def test_predict_refuses_a_model_of_another_kind(sqlite_url: str, tmp_path: Path) -> None:
    container = bootstrap(db_url=sqlite_url)
    try:
        registry = SqlModelRegistry(container.engine)
        registry.register(
            name="x",
            kind="failure",
            model=pickle.dumps(1),
            trained_on="",
            data_digest="",
            metrics={},
            params={},
            created_at=AT,
        )
        with pytest.raises(Conflict, match="not a RUL model"):
            predict_rul(registry, tmp_path / "unused.txt", name="x")
    finally:
        container.close()


def test_cli_train_and_predict(sqlite_url: str, cmapss_dir: Path, tmp_path: Path) -> None:
    train = _units(cmapss_dir / "train_FD001.txt.xz", tmp_path / "train.txt", 3)
    test = _units(cmapss_dir / "test_FD001.txt.xz", tmp_path / "test.txt", 2)
    runner = CliRunner()
    trained = runner.invoke(
        app,
        [
            "maintenance",
            "train",
            "--train",
            str(train),
            "--db",
            sqlite_url,
            "--json",
            "--trees",
            "30",
            "--ensemble",
            "1",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.output)["version"] == 1
    predicted = runner.invoke(
        app, ["maintenance", "predict", "--data", str(test), "--db", sqlite_url, "--json"]
    )
    assert predicted.exit_code == 0, predicted.output
    out = json.loads(predicted.output)
    assert out["model"] == "rul v1"
    assert [p["unit"] for p in out["predictions"]] == [1, 2]
