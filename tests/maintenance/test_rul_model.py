"""The fleet RUL pipeline on a subset of C-MAPSS FD001."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microfactory.core import NotFittedError
from microfactory.maintenance.cmapss import RunSet, read_cmapss, read_rul
from microfactory.maintenance.metrics import rmse
from microfactory.maintenance.rul import FleetRULModel, RULRegressor

SMALL = RULRegressor(
    n_estimators=80, learning_rate=0.1, n_models=1, interval_estimators=30, n_jobs=1
)


@pytest.fixture(scope="module")
def fd001(cmapss_dir: Path) -> tuple[RunSet, RunSet, np.ndarray]:
    train = read_cmapss(cmapss_dir / "train_FD001.txt.xz")
    test = read_cmapss(cmapss_dir / "test_FD001.txt.xz")
    return train.subset(list(range(1, 26))), test, read_rul(cmapss_dir / "RUL_FD001.txt")


def test_fleet_model_beats_predicting_the_mean(fd001: tuple[RunSet, RunSet, np.ndarray]) -> None:
    train, test, true_rul = fd001
    model = FleetRULModel(regressor=SMALL).fit(train)
    point, lower, upper = model.predict_last(test)
    clipped = np.minimum(true_rul, 125)
    baseline = rmse(clipped, np.full(len(clipped), clipped.mean()))
    assert len(point) == 100
    assert rmse(clipped, point) < 0.6 * baseline
    assert np.all((lower <= point) & (point <= upper))
    assert model.n_regimes_ == 1


def test_fleet_model_unfitted_raises(fd001: tuple[RunSet, RunSet, np.ndarray]) -> None:
    with pytest.raises(NotFittedError):
        FleetRULModel().predict_last(fd001[1])
