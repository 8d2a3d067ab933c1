"""scikit-learn's estimator checks on the maintenance models, and our NotFittedError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from microfactory.core import NotFittedError, ValidationError
from microfactory.maintenance.anomaly import BaselineAnomalyDetector
from microfactory.maintenance.failures import FailureClassifier
from microfactory.maintenance.rul import RULRegressor

SMALL = [
    RULRegressor(
        n_estimators=30,
        learning_rate=0.1,
        n_models=2,
        interval_estimators=10,
        min_child_samples=5,
        n_jobs=1,
    ),
    FailureClassifier(n_estimators=30, min_child_samples=5, n_jobs=1),
    BaselineAnomalyDetector(),
]


def _expected_failures(estimator: Any) -> dict[str, str]:
    return {}


@parametrize_with_checks(SMALL, expected_failed_checks=_expected_failures)  # type: ignore[untyped-decorator]
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.mark.parametrize("estimator", SMALL, ids=lambda e: type(e).__name__)
def test_unfitted_use_raises_microfactory_not_fitted(estimator: Any) -> None:
    with pytest.raises(NotFittedError):
        estimator.predict(np.zeros((2, 3)))


def test_interval_contains_point_estimate() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = 50 + 10 * x[:, 0] + rng.normal(scale=3, size=300)
    model = RULRegressor(
        n_estimators=50, n_models=2, interval_estimators=30, min_child_samples=5, n_jobs=1
    )
    point, lower, upper = model.fit(x, y).predict_interval(x)
    assert np.all(lower <= point)
    assert np.all(point <= upper)
    assert np.all(lower >= 0)


def test_interval_covers_most_noisy_targets() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 3))
    y = 60 + 15 * x[:, 0] + rng.normal(scale=5, size=1500)
    model = RULRegressor(
        n_estimators=60, n_models=1, interval_estimators=80, min_child_samples=20, n_jobs=1
    )
    model.fit(x[:1000], y[:1000])
    _, lower, upper = model.predict_interval(x[1000:])
    covered = np.mean((y[1000:] >= lower) & (y[1000:] <= upper))
    assert 0.65 <= covered <= 0.95  # nominal 0.8


def test_anomaly_detector_flags_a_shifted_machine() -> None:
    rng = np.random.default_rng(2)
    healthy = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=2000)
    detector = BaselineAnomalyDetector(contamination=0.01).fit(healthy)
    # each signal alone is within 2 sigma, but they break the learned correlation
    odd = np.array([[1.5, -1.5]])
    assert detector.predict(odd)[0] == -1
    assert detector.predict(np.array([[0.1, 0.1]]))[0] == 1
    contrib = detector.explain(odd[0])
    assert contrib.sum() == pytest.approx(detector.anomaly_score(odd)[0])


def test_auto_threshold_is_learned_from_the_training_data() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=600) > 1.2).astype(int)
    model = FailureClassifier(n_estimators=40, min_child_samples=5).fit(x, y)
    assert 0.0 < model.threshold_ < 1.0
    fixed = FailureClassifier(n_estimators=40, min_child_samples=5, threshold=0.3).fit(x, y)
    assert fixed.threshold_ == 0.3


@pytest.mark.parametrize("threshold", ["best", 0.0, 1.5])  # unknown word, out of (0, 1)
def test_bad_threshold_is_refused(threshold: object) -> None:
    with pytest.raises(ValidationError, match="threshold"):
        FailureClassifier(threshold=threshold).fit(np.zeros((10, 1)), [0, 1] * 5)  # type: ignore[arg-type]
