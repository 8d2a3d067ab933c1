"""Maintenance benchmarks with their peers in the same run; prints one JSON object per line.

    .venv/bin/python benchmarks/maintenance/run.py [--data ../shared/data] [--subsets FD001 FD003]

C-MAPSS (standard protocol: target capped at 125, one prediction at each test unit's last
cycle, errors against the true RUL clipped at 125, unclipped RMSE beside it):
  - microfactory: FleetRULModel (the model behind `microfactory bench rul`)
  - peer "linear": linear regression on the raw sensors of the current cycle
  - peer "random_forest": random forest on the last-cycle sensors
AI4I 2020 (stratified 5-fold, seed 0):
  - microfactory: FailureClassifier on physics features (the model behind `bench failures`)
  - ablation: the same without the 0/1 limit-exceedance features (margins only)
  - peer "rules": the three documented physical rules, no learning
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression

from microfactory.maintenance.ai4i import ai4i_features, read_ai4i
from microfactory.maintenance.benchmark import run_rul_benchmark
from microfactory.maintenance.cmapss import read_cmapss, read_rul, training_rul
from microfactory.maintenance.failures import FailureClassifier, cross_validate_failures
from microfactory.maintenance.metrics import binary_scores, nasa_score, rmse

CAP = 125.0


def _files(data: Path, subset: str) -> tuple[Path, Path, Path]:
    d = data / "cmapss"
    train = d / f"train_{subset}.txt"
    if not train.exists():
        train = d / f"train_{subset}.txt.gz"
    test = d / f"test_{subset}.txt"
    if not test.exists():
        test = d / f"test_{subset}.txt.gz"
    return train, test, d / f"RUL_{subset}.txt"


def _peer(name: str, subset: str, files: tuple[Path, Path, Path]) -> dict[str, object]:
    train, test = read_cmapss(files[0]), read_cmapss(files[1])
    true = read_rul(files[2]).astype(float)
    y = training_rul(train, CAP)
    x_train = np.hstack([train.settings, train.sensors])
    last = [s.stop - 1 for s in test.unit_slices()]
    x_test = np.hstack([test.settings, test.sensors])[last]
    start = time.perf_counter()
    if name == "linear":
        model = LinearRegression().fit(x_train, y)
    else:
        model = RandomForestRegressor(
            n_estimators=200, min_samples_leaf=5, random_state=0, n_jobs=1
        ).fit(x_train, y)
    seconds = time.perf_counter() - start
    pred = np.clip(model.predict(x_test), 0, None)
    clipped = np.minimum(true, CAP)
    return {
        "benchmark": "cmapss",
        "subset": subset,
        "model": name,
        "rmse": round(rmse(clipped, pred), 4),
        "score": round(nasa_score(clipped, pred), 2),
        "rmse_unclipped": round(rmse(true, pred), 4),
        "n_units": len(true),
        "train_seconds": round(seconds, 2),
    }


def _ai4i(data: Path) -> list[dict[str, object]]:
    table = read_ai4i(data / "ai4i2020" / "ai4i2020.csv")
    x, names = ai4i_features(table)
    y = table.failure
    out: list[dict[str, object]] = []
    start = time.perf_counter()
    full = cross_validate_failures(x, y, FailureClassifier(), folds=5, seed=0)
    out.append(
        {
            "benchmark": "ai4i",
            "model": "microfactory",
            "seconds": round(time.perf_counter() - start, 2),
            **{k: round(v, 4) for k, v in full.items()},
        }
    )
    margins_only = [
        i
        for i, n in enumerate(names)
        if n not in ("power_outside_window", "heat_limited", "overstrained")
    ]
    start = time.perf_counter()
    ablation = cross_validate_failures(x[:, margins_only], y, FailureClassifier(), folds=5, seed=0)
    out.append(
        {
            "benchmark": "ai4i",
            "model": "microfactory_without_limit_flags",
            "seconds": round(time.perf_counter() - start, 2),
            **{k: round(v, 4) for k, v in ablation.items()},
        }
    )
    col = {n: i for i, n in enumerate(names)}
    rules = (
        (x[:, col["power_margin"]] < 0)
        | (x[:, col["heat_margin"]] < 0)
        | (x[:, col["strain_ratio"]] > 1)
    )
    out.append(
        {
            "benchmark": "ai4i",
            "model": "rules",
            **{k: round(v, 4) for k, v in binary_scores(y, rules).items()},
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data"
    )
    parser.add_argument("--subsets", nargs="*", default=["FD001", "FD003"])
    parser.add_argument("--skip-ai4i", action="store_true")
    args = parser.parse_args()
    meta = {
        "benchmark": "meta",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(meta), flush=True)
    for subset in args.subsets:
        files = _files(args.data, subset)
        result = run_rul_benchmark(*files)
        row = {"benchmark": "cmapss", "subset": subset, **result.summary()}
        print(json.dumps(row), flush=True)
        for peer in ("linear", "random_forest"):
            print(json.dumps(_peer(peer, subset, files)), flush=True)
    if not args.skip_ai4i:
        for row in _ai4i(args.data):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
