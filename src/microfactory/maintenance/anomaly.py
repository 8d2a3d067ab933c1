"""Unsupervised anomaly detection for machines with no failure history.

`BaselineAnomalyDetector` learns what "healthy" looks like from data assumed to be mostly
normal (a machine's first weeks, or the early life of a fleet): a shrunk (Ledoit-Wolf)
covariance of the standardized signals. Its anomaly score is the squared Mahalanobis
distance divided by the number of signals, about 1 on healthy data and growing as the
signals move jointly away from the baseline. The alarm threshold is the `1 - contamination`
quantile of the training scores. `explain` says how much each signal contributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, OutlierMixin

from microfactory.core import ValidationError
from microfactory.maintenance.estimators import check_fitted, check_x

FloatArray = NDArray[np.float64]


class BaselineAnomalyDetector(OutlierMixin, BaseEstimator):  # type: ignore[misc]
    """Mahalanobis distance to a healthy baseline; `predict` gives 1 (normal) / -1 (anomaly)."""

    def __init__(self, contamination: float = 0.01) -> None:
        self.contamination = contamination

    def fit(self, X: Any, y: Any = None) -> BaselineAnomalyDetector:
        from sklearn.covariance import LedoitWolf

        if not 0.0 < self.contamination < 0.5:
            raise ValidationError("contamination must be in (0, 0.5)")
        x = check_x(self, X, reset=True)
        if x.shape[0] < 2:
            raise ValidationError("got 1 sample; at least 2 rows are needed to learn a baseline")
        self.location_ = x.mean(axis=0)
        scale = x.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        z = (x - self.location_) / self.scale_
        cov = LedoitWolf().fit(z).covariance_
        self.precision_ = np.linalg.pinv(cov)
        scores = self._scores(z)
        self.threshold_ = float(np.quantile(scores, 1.0 - self.contamination))
        # OutlierMixin convention: decision_function = score_samples - offset_.
        self.offset_ = -self.threshold_
        return self

    def _scores(self, z: FloatArray) -> FloatArray:
        d2 = np.einsum("ij,jk,ik->i", z, self.precision_, z)
        return np.asarray(np.maximum(d2, 0.0) / z.shape[1], dtype=np.float64)

    def anomaly_score(self, X: Any) -> FloatArray:
        """Squared Mahalanobis distance per signal (about 1 when healthy)."""
        check_fitted(self, "precision_")
        x = check_x(self, X, reset=False)
        return self._scores((x - self.location_) / self.scale_)

    def score_samples(self, X: Any) -> FloatArray:
        """Higher is more normal (scikit-learn's outlier convention)."""
        return -self.anomaly_score(X)

    def decision_function(self, X: Any) -> FloatArray:
        """Negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> NDArray[np.int64]:
        return np.where(self.decision_function(X) < 0, -1, 1).astype(np.int64)

    def explain(self, x_row: Any) -> FloatArray:
        """Contribution of each signal to one row's score (they sum to the score)."""
        check_fitted(self, "precision_")
        x = check_x(self, np.atleast_2d(np.asarray(x_row, dtype=np.float64)), reset=False)
        z = ((x - self.location_) / self.scale_)[0]
        return np.asarray(z * (self.precision_ @ z) / z.size, dtype=np.float64)
