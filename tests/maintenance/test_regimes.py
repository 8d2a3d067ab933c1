"""Operating-regime clustering and per-regime normalization, on synthetic fleets."""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.core import NotFittedError, ValidationError
from microfactory.maintenance.regimes import OperatingRegimes, RegimeNormalizer

CONDITIONS = np.array(
    [
        [0, 0, 100],
        [10, 0.25, 100],
        [20, 0.7, 100],
        [25, 0.62, 60],
        [35, 0.84, 100],
        [42, 0.84, 100],
    ],
    dtype=float,
)


def _fleet(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(CONDITIONS), size=n)
    settings = CONDITIONS[which] + rng.normal(scale=0.002, size=(n, 3))
    offsets = np.array([[500.0, 10.0], [480, 20], [460, 30], [440, 5], [430, 15], [420, 25]])
    sensors = offsets[which] + rng.normal(scale=[2.0, 0.5], size=(n, 2))
    return settings, sensors, which


def test_six_conditions_are_found() -> None:
    settings, _, which = _fleet()
    regimes = OperatingRegimes().fit(settings)
    assert regimes.n_regimes_ == 6
    labels = regimes.predict(settings)
    # each true condition maps to exactly one regime
    assert all(len(set(labels[which == c])) == 1 for c in range(6))


def test_one_condition_with_noise_is_one_regime() -> None:
    rng = np.random.default_rng(3)
    settings = np.array([0.0, 0.0, 100.0]) + rng.normal(scale=[0.002, 0.0003, 0.0], size=(800, 3))
    assert OperatingRegimes().fit(settings).n_regimes_ == 1


def test_sensors_are_standardized_within_each_regime() -> None:
    settings, sensors, which = _fleet()
    z = RegimeNormalizer().fit(sensors, settings).transform(sensors, settings)
    for c in range(6):
        np.testing.assert_allclose(z[which == c].mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(z[which == c].std(axis=0), 1.0, atol=1e-9)


def test_constant_sensor_is_dropped() -> None:
    settings, sensors, _ = _fleet()
    with_constant = np.column_stack([sensors, np.full(len(sensors), 21.6)])
    norm = RegimeNormalizer().fit(with_constant, settings)
    assert norm.keep_.tolist() == [0, 1]


def test_unfitted_normalizer_raises_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        RegimeNormalizer().transform(np.ones((2, 2)))


def test_column_count_mismatch_raises() -> None:
    settings, sensors, _ = _fleet(n=100)
    norm = RegimeNormalizer().fit(sensors, settings)
    with pytest.raises(ValidationError, match="columns"):
        norm.transform(sensors[:, :1], settings)
