"""Remaining-useful-life regression with prediction intervals.

`RULRegressor` is a scikit-learn regressor on a feature matrix: a small seed ensemble of
LightGBM models for the point estimate and two LightGBM quantile models for the interval.
`FleetRULModel` is the whole pipeline on run histories: operating-regime normalization,
windowed features at every cut point of every training unit, a piecewise-linear target
capped at `rul_cap`, and the regressor; `predict_last` gives one estimate per unit at its
last observed cycle (the C-MAPSS protocol).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, RegressorMixin

from microfactory.core import ValidationError
from microfactory.maintenance.cmapss import RunSet, training_rul
from microfactory.maintenance.estimators import check_fitted, check_x, check_xy
from microfactory.maintenance.features import WindowSpec, window_features
from microfactory.maintenance.regimes import RegimeNormalizer

FloatArray = NDArray[np.float64]

DEFAULT_SPEC = WindowSpec(
    mean_windows=(5, 10, 20, 30, 60),
    std_windows=(10, 30),
    slope_windows=(10, 20, 40, 80),
    ewm_spans=(10.0, 40.0),
    baseline_rows=15,
    include_age=True,
)


class RULRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted RUL regressor with a central prediction interval.

    `predict` is the mean of `n_models` LightGBM models that differ only in their random
    seed (row and column subsampling); `predict_interval` gives the `coverage` central
    interval from two quantile models, widened where needed so that it always contains
    the point estimate. Predictions stay within the range of the training target (a
    remaining life is never negative).
    """

    def __init__(
        self,
        n_estimators: int = 800,
        learning_rate: float = 0.02,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample: float = 0.5,
        n_models: int = 3,
        coverage: float = 0.8,
        interval_estimators: int = 300,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.n_models = n_models
        self.coverage = coverage
        self.interval_estimators = interval_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self, seed: int, **extra: Any) -> Any:
        import lightgbm as lgb

        params: dict[str, Any] = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample,
            "reg_lambda": 1.0,
            "random_state": seed,
            "n_jobs": self.n_jobs,
            "verbose": -1,
        }
        params.update(extra)
        return lgb.LGBMRegressor(**params)

    def fit(self, X: Any, y: Any) -> RULRegressor:
        if not 0.0 < self.coverage < 1.0:
            raise ValidationError("coverage must be in (0, 1)")
        if self.n_models < 1:
            raise ValidationError("n_models must be at least 1")
        x, target = check_xy(self, X, y)
        target = np.asarray(target, dtype=np.float64)
        self.target_range_ = (float(target.min()), float(target.max()))
        self.models_ = [
            self._booster(self.random_state + i).fit(x, target) for i in range(self.n_models)
        ]
        tail = (1.0 - self.coverage) / 2.0
        self.quantile_models_ = [
            self._booster(
                self.random_state,
                objective="quantile",
                alpha=alpha,
                n_estimators=self.interval_estimators,
                learning_rate=max(self.learning_rate, 0.05),
            ).fit(x, target)
            for alpha in (tail, 1.0 - tail)
        ]
        return self

    def predict(self, X: Any) -> FloatArray:
        check_fitted(self, "models_")
        x = check_x(self, X, reset=False)
        mean = np.mean([m.predict(x) for m in self.models_], axis=0)
        low, high = self.target_range_
        return np.clip(np.asarray(mean, dtype=np.float64), low, high)

    def predict_interval(self, X: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(point, lower, upper) with lower <= point <= upper, all within the range of the
        training target (so never negative when trained on remaining lives)."""
        point = self.predict(X)
        x = check_x(self, X, reset=False)
        lo = np.asarray(self.quantile_models_[0].predict(x), dtype=np.float64)
        hi = np.asarray(self.quantile_models_[1].predict(x), dtype=np.float64)
        low, high = self.target_range_
        lower = np.clip(np.minimum(np.minimum(lo, hi), point), low, high)
        upper = np.clip(np.maximum(np.maximum(lo, hi), point), low, high)
        return point, lower, upper


class FleetRULModel:
    """RUL from run histories of a fleet: regimes, windowed features, regressor.

    Hyper-parameters are set in `__init__`; `fit(runs)` learns from run-to-failure
    histories (each unit's last row is its failure) and returns `self`; learned state ends
    in `_`.
    """

    def __init__(
        self,
        rul_cap: float = 125.0,
        spec: WindowSpec = DEFAULT_SPEC,
        regressor: RULRegressor | None = None,
    ) -> None:
        self.rul_cap = rul_cap
        self.spec = spec
        self.regressor = regressor

    def _features(self, runs: RunSet, *, last_only: bool) -> FloatArray:
        z = self.normalizer_.transform(runs.sensors, runs.settings)
        return window_features(z, runs.unit_slices(), self.spec, last_only=last_only)

    def fit(self, runs: RunSet) -> FleetRULModel:
        if self.rul_cap <= 0:
            raise ValidationError("rul_cap must be positive")
        self.normalizer_ = RegimeNormalizer().fit(runs.sensors, runs.settings)
        x = self._features(runs, last_only=False)
        y = training_rul(runs, self.rul_cap)
        base = self.regressor if self.regressor is not None else RULRegressor()
        from sklearn.base import clone

        self.regressor_: RULRegressor = clone(base).fit(x, y)
        self.n_regimes_ = self.normalizer_.regimes_.n_regimes_
        self.n_units_ = len(runs.units)
        return self

    def predict_last(self, runs: RunSet) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(point, lower, upper) RUL at the last observed cycle of each unit, in unit order."""
        check_fitted(self, "regressor_")
        x = self._features(runs, last_only=True)
        return self.regressor_.predict_interval(x)

    @property
    def description(self) -> str:
        check_fitted(self, "regressor_")
        r = self.regressor_
        return (
            f"lightgbm x{r.n_models} ({r.n_estimators} trees, {r.num_leaves} leaves) on "
            f"{self.regressor_.n_features_in_} windowed features, {self.n_regimes_} regime(s), "
            f"target capped at {self.rul_cap:g}"
        )
