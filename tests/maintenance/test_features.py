"""Windowed features against direct recomputation, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.core import ValidationError
from microfactory.maintenance.features import WindowSpec, feature_names, window_features

SPEC = WindowSpec(
    mean_windows=(3, 8), std_windows=(4,), slope_windows=(5,), ewm_spans=(4.0,), baseline_rows=3
)


def _series(n: int = 12, k: int = 2, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, k)), axis=0)


def _column(names: list[str], name: str) -> int:
    return names.index(name)


def test_window_statistics_match_direct_computation() -> None:
    y = _series()
    f = window_features(y, [slice(0, len(y))], SPEC)
    names = feature_names(["a", "b"], SPEC)
    assert f.shape == (len(y), len(names))
    for t in range(len(y)):
        for j, s in enumerate("ab"):
            hist = y[: t + 1, j]
            assert f[t, _column(names, f"{s}__last")] == pytest.approx(hist[-1])
            assert f[t, _column(names, f"{s}__mean8")] == pytest.approx(hist[-8:].mean())
            assert f[t, _column(names, f"{s}__std4")] == pytest.approx(hist[-4:].std(), abs=1e-9)
            w = hist[-5:]
            slope = np.polyfit(np.arange(len(w)), w, 1)[0] if len(w) > 1 else 0.0
            assert f[t, _column(names, f"{s}__slope5")] == pytest.approx(slope, abs=1e-9)
            drift = hist[-3:].mean() - hist[:3].mean()
            assert f[t, _column(names, f"{s}__drift")] == pytest.approx(drift)
    assert f[:, -1].tolist() == list(range(1, len(y) + 1))  # age in rows


def test_ewm_matches_adjusted_exponential_mean() -> None:
    y = _series(k=1)
    f = window_features(y, [slice(0, len(y))], SPEC)
    col = _column(feature_names(["a"], SPEC), "a__ewm4")
    alpha = 2 / 5
    t = 7
    weights = (1 - alpha) ** np.arange(t, -1, -1)
    assert f[t, col] == pytest.approx(np.sum(weights * y[: t + 1, 0]) / weights.sum())


def test_features_never_look_ahead() -> None:
    y = _series(n=20)
    changed = y.copy()
    changed[10:] += 100.0  # the future of the cut point at row 9
    before = window_features(y, [slice(0, 20)], SPEC)
    after = window_features(changed, [slice(0, 20)], SPEC)
    np.testing.assert_array_equal(before[:10], after[:10])
    assert not np.allclose(before[10:], after[10:])


def test_units_do_not_share_history() -> None:
    y = _series(n=20)
    joint = window_features(y, [slice(0, 8), slice(8, 20)], SPEC)
    alone = window_features(y[8:], [slice(0, 12)], SPEC)
    np.testing.assert_array_equal(joint[8:], alone)


def test_last_only_gives_the_last_row_of_each_unit() -> None:
    y = _series(n=20)
    groups = [slice(0, 8), slice(8, 20)]
    full = window_features(y, groups, SPEC)
    last = window_features(y, groups, SPEC, last_only=True)
    np.testing.assert_array_equal(last, full[[7, 19]])


@pytest.mark.parametrize(
    "values",
    [
        np.ones(5),  # 1-D instead of rows x signals
        np.array([[1.0], [np.nan]]),  # NaN
    ],
)
def test_bad_values_raise(values: np.ndarray) -> None:
    with pytest.raises(ValidationError):
        window_features(values, [slice(0, len(values))], SPEC)


def test_bad_window_spec_raises() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WindowSpec(mean_windows=(0,))
