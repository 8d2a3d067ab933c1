"""The two public benchmark protocols (DESIGN.md): C-MAPSS RUL and AI4I 2020 failures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microfactory.core import ValidationError
from microfactory.maintenance.ai4i import ai4i_features, read_ai4i
from microfactory.maintenance.cmapss import read_cmapss, read_rul
from microfactory.maintenance.failures import FailureClassifier, cross_validate_failures
from microfactory.maintenance.metrics import nasa_score, rmse
from microfactory.maintenance.rul import FleetRULModel

RUL_CAP = 125.0


@dataclass(frozen=True)
class RulBenchmark:
    """Result of one C-MAPSS run: errors against the true RUL clipped at the cap, and the
    unclipped RMSE beside them; `predictions` are in test-unit order."""

    rmse: float
    score: float
    rmse_unclipped: float
    score_unclipped: float
    n_units: int
    train_seconds: float
    train_cpu_seconds: float
    model: str
    interval_coverage: float
    predictions: tuple[float, ...]

    def summary(self) -> dict[str, float | int | str]:
        return {
            "rmse": round(self.rmse, 4),
            "score": round(self.score, 2),
            "rmse_unclipped": round(self.rmse_unclipped, 4),
            "score_unclipped": round(self.score_unclipped, 2),
            "n_units": self.n_units,
            "train_seconds": round(self.train_seconds, 2),
            "train_cpu_seconds": round(self.train_cpu_seconds, 2),
            "model": self.model,
            "interval_coverage": round(self.interval_coverage, 4),
            "rul_cap": RUL_CAP,
        }


def run_rul_benchmark(
    train_path: str | Path,
    test_path: str | Path,
    rul_path: str | Path,
    model: FleetRULModel | None = None,
) -> RulBenchmark:
    """Train on run-to-failure units, predict each test unit at its last cycle."""
    train = read_cmapss(train_path)
    test = read_cmapss(test_path)
    true_rul = read_rul(rul_path).astype(np.float64)
    n_units = len(test.units)
    if len(true_rul) != n_units:
        raise ValidationError(
            f"{len(true_rul)} RUL values for {n_units} test units", where=str(rul_path)
        )
    fleet = model if model is not None else FleetRULModel(rul_cap=RUL_CAP)
    start, cpu_start = time.perf_counter(), time.process_time()
    fleet.fit(train)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    point, lower, upper = fleet.predict_last(test)
    clipped = np.minimum(true_rul, fleet.rul_cap)
    covered = float(np.mean((clipped >= lower) & (clipped <= upper)))
    return RulBenchmark(
        rmse=rmse(clipped, point),
        score=nasa_score(clipped, point),
        rmse_unclipped=rmse(true_rul, point),
        score_unclipped=nasa_score(true_rul, point),
        n_units=n_units,
        train_seconds=seconds,
        train_cpu_seconds=cpu_seconds,
        model=fleet.description,
        interval_coverage=covered,
        predictions=tuple(float(p) for p in point),
    )


def run_failure_benchmark(data_path: str | Path) -> dict[str, float | int | str]:
    """AI4I 2020: stratified 5-fold CV (seed 0) of the failure classifier."""
    table = read_ai4i(data_path)
    x, names = ai4i_features(table)
    start = time.perf_counter()
    scores = cross_validate_failures(x, table.failure, FailureClassifier(), folds=5, seed=0)
    out: dict[str, float | int | str] = {k: round(v, 4) for k, v in scores.items()}
    out["n_rows"] = len(table.failure)
    out["n_failures"] = int(table.failure.sum())
    out["seconds"] = round(time.perf_counter() - start, 2)
    out["model"] = f"lightgbm on {len(names)} physics features, stratified 5-fold seed 0"
    return out
