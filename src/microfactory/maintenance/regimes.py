"""Operating-regime normalization for multi-condition fleets.

Sensor readings shift with the operating condition (altitude, throttle, spindle load...)
far more than with wear. `RegimeNormalizer` clusters the operating settings with k-means,
choosing the number of regimes from the data (the smallest k whose within-cluster
inertia is below `inertia_tol` of the single-cluster inertia and for which one more cluster
would not halve it again), then standardizes every
sensor with the mean and standard deviation of its own regime. On a single-condition fleet
the settings are noise around one point, no k reaches the tolerance and one regime is
used; on a six-condition fleet the six tight clusters are found. Nothing is keyed to a data
set name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans

from microfactory.core import NotFittedError, ValidationError

FloatArray = NDArray[np.float64]


def _check_2d(x: Any, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValidationError(f"{name} must be 2-D, got {arr.ndim}-D")
    if arr.shape[0] == 0:
        raise ValidationError(f"{name} has no rows")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} holds NaN or infinite values")
    return arr


class OperatingRegimes(BaseEstimator):  # type: ignore[misc]
    """Clusters operating settings into regimes; `predict` gives the regime of each row."""

    def __init__(self, max_regimes: int = 10, inertia_tol: float = 0.01, random_state: int = 0):
        self.max_regimes = max_regimes
        self.inertia_tol = inertia_tol
        self.random_state = random_state

    def fit(self, settings: Any, y: Any = None) -> OperatingRegimes:
        x = _check_2d(settings, "settings")
        if self.max_regimes < 1:
            raise ValidationError("max_regimes must be at least 1")
        self.center_ = x.mean(axis=0)
        scale = x.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        z = (x - self.center_) / self.scale_
        total = float(np.sum(z**2))
        n_distinct = len(np.unique(np.round(z, 9), axis=0))
        chosen = self._choose(z, total, n_distinct) if total > 0 else None
        if chosen is None:
            self.centroids_ = np.zeros((1, x.shape[1]))
        else:
            # Order regimes by centroid so labels do not depend on k-means initialisation.
            order = np.lexsort(chosen.cluster_centers_.T[::-1])
            self.centroids_ = chosen.cluster_centers_[order]
        self.n_regimes_ = len(self.centroids_)
        self.n_features_in_ = x.shape[1]
        return self

    def _choose(self, z: FloatArray, total: float, n_distinct: int) -> KMeans | None:
        """Smallest k with tight clusters (inertia below `inertia_tol` of the total) and
        nothing left to split (k + 1 clusters would not halve the inertia again)."""
        rng = np.random.default_rng(self.random_state)
        sample = z if len(z) <= 3000 else z[rng.choice(len(z), 3000, replace=False)]
        total = total * len(sample) / len(z)
        top = min(self.max_regimes, n_distinct)
        fits: dict[int, KMeans] = {}

        def fit(k: int) -> KMeans:
            if k not in fits:
                fits[k] = KMeans(n_clusters=k, n_init=3, random_state=self.random_state)
                fits[k].fit(sample)
            return fits[k]

        for k in range(2, top + 1):
            inertia = float(fit(k).inertia_)
            if inertia > self.inertia_tol * total:
                continue
            if k + 1 > n_distinct or float(fit(k + 1).inertia_) > 0.5 * inertia:
                return fits[k]
        return None

    def predict(self, settings: Any) -> NDArray[np.int64]:
        if not hasattr(self, "centroids_"):
            raise NotFittedError("OperatingRegimes is not fitted; call fit first")
        x = _check_2d(settings, "settings")
        if x.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"settings have {x.shape[1]} columns, the model was fitted on {self.n_features_in_}"
            )
        z = (x - self.center_) / self.scale_
        d = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        labels: NDArray[np.int64] = np.argmin(d, axis=1).astype(np.int64)
        return labels


class RegimeNormalizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Standardizes sensors per operating regime and drops sensors that carry no signal.

    `fit(sensors, settings)` / `transform(sensors, settings)`; without settings one regime
    is assumed. A sensor is dropped when it is constant within every regime (its pooled
    within-regime standard deviation is below `min_std` times its typical magnitude).
    """

    def __init__(
        self, max_regimes: int = 10, inertia_tol: float = 0.01, min_std: float = 1e-6
    ) -> None:
        self.max_regimes = max_regimes
        self.inertia_tol = inertia_tol
        self.min_std = min_std

    def _regimes_of(self, n: int, settings: Any) -> NDArray[np.int64]:
        if settings is None:
            return np.zeros(n, dtype=np.int64)
        s = _check_2d(settings, "settings")
        if s.shape[0] != n:
            raise ValidationError(f"{n} sensor rows but {s.shape[0]} settings rows")
        return self.regimes_.predict(s)

    def fit(self, sensors: Any, settings: Any = None) -> RegimeNormalizer:
        x = _check_2d(sensors, "sensors")
        s = np.zeros((x.shape[0], 1)) if settings is None else _check_2d(settings, "settings")
        if s.shape[0] != x.shape[0]:
            raise ValidationError(f"{x.shape[0]} sensor rows but {s.shape[0]} settings rows")
        self.regimes_ = OperatingRegimes(self.max_regimes, self.inertia_tol).fit(s)
        labels = self.regimes_.predict(s)
        k = self.regimes_.n_regimes_
        means = np.zeros((k, x.shape[1]))
        stds = np.ones((k, x.shape[1]))
        resid = np.zeros_like(x)
        for r in range(k):
            rows = labels == r
            if not np.any(rows):
                continue
            means[r] = x[rows].mean(axis=0)
            stds[r] = x[rows].std(axis=0)
            resid[rows] = x[rows] - means[r]
        pooled = np.sqrt(np.mean(resid**2, axis=0))
        magnitude = np.mean(np.abs(x), axis=0) + 1.0
        self.keep_ = np.flatnonzero(pooled > self.min_std * magnitude)
        self.means_ = means
        self.stds_ = np.where(stds > self.min_std * magnitude, stds, 1.0)
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, sensors: Any, settings: Any = None) -> FloatArray:
        if not hasattr(self, "keep_"):
            raise NotFittedError("RegimeNormalizer is not fitted; call fit first")
        x = _check_2d(sensors, "sensors")
        if x.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"sensors have {x.shape[1]} columns, the model was fitted on {self.n_features_in_}"
            )
        labels = self._regimes_of(x.shape[0], settings)
        z = (x - self.means_[labels]) / self.stds_[labels]
        return np.ascontiguousarray(z[:, self.keep_])
