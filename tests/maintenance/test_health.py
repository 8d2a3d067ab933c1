"""Health index and RUL on lives of the digital twin's degradation model."""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.core import NotFittedError, ValidationError
from microfactory.maintenance.health import HealthModel, Life, SignalHistory

from .twin_lives import twin_life, twin_lives


@pytest.fixture(scope="module")
def model() -> HealthModel:
    return HealthModel().fit(twin_lives(8, seed=0))


def test_health_index_falls_as_hidden_wear_grows(model: HealthModel) -> None:
    history, wear = twin_life(np.random.default_rng(11))
    total = float(history.run_hours[-1])
    early = model.assess(history.until(0.15 * total))
    late = model.assess(history)
    assert early.health_index > 0.8
    assert late.health_index < 0.4
    d = model.degradation_index(history)
    # D tracks the hidden wear squared (the twin's drift law) far better than chance
    assert np.corrcoef(d, wear**2)[0, 1] > 0.8


def test_rul_is_shorter_near_the_end_and_in_its_interval(model: HealthModel) -> None:
    history, _ = twin_life(np.random.default_rng(12))
    total = float(history.run_hours[-1])
    mid = model.assess(history.until(0.3 * total))
    end = model.assess(history)
    assert end.rul_hours is not None and mid.rul_hours is not None
    assert end.rul_hours < mid.rul_hours
    assert end.rul_lower_hours is not None and end.rul_upper_hours is not None
    assert end.rul_lower_hours <= end.rul_hours <= end.rul_upper_hours


def test_interval_covers_most_true_remaining_lives(model: HealthModel) -> None:
    rng = np.random.default_rng(13)
    hits = total = 0
    for _ in range(6):
        history, _ = twin_life(rng)
        life = float(history.run_hours[-1])
        for share in (0.5, 0.7, 0.9):
            a = model.assess(history.until(share * life))
            assert a.rul_lower_hours is not None and a.rul_upper_hours is not None
            truth = life - share * life
            hits += a.rul_lower_hours <= truth <= a.rul_upper_hours
            total += 1
    assert hits / total >= 0.6  # nominal 0.8, on a jumpy gamma process


def test_explanation_names_the_drifting_signals(model: HealthModel) -> None:
    history, _ = twin_life(np.random.default_rng(14))
    a = model.assess(history)
    assert a.trends[0].signal in a.explanation
    assert a.trends[0].shift_sigmas > 2
    assert a.trends[0].slope_per_hour > 0
    assert sum(t.share for t in a.trends) == pytest.approx(1.0)


def test_without_failures_the_model_is_unsupervised() -> None:
    censored = [Life(life.history, failed=False) for life in twin_lives(3, seed=5)]
    model = HealthModel().fit(censored)
    assert model.n_failed_lives_ == 0
    assert model.n_calibration_points_ == 0
    history, _ = twin_life(np.random.default_rng(15))
    assert model.assess(history).health_index < model.assess(history.until(5.0)).health_index


def test_unfitted_model_raises_not_fitted() -> None:
    history, _ = twin_life(np.random.default_rng(16))
    with pytest.raises(NotFittedError):
        HealthModel().assess(history)


def test_signals_must_match_the_model(model: HealthModel) -> None:
    history, _ = twin_life(np.random.default_rng(17), machine_type="fdm_printer")
    with pytest.raises(ValidationError, match="differ"):
        model.assess(history)


@pytest.mark.parametrize(
    ("hours", "values", "running", "message"),
    [
        ([0.0, 1.0], [[1.0], [2.0]], [True], "one flag per sample"),  # flags missing
        ([1.0, 0.5], [[1.0], [2.0]], [True, True], "must not decrease"),  # time runs back
        ([0.0, 1.0], [[1.0], [np.nan]], [True, True], "finite"),  # NaN reading
    ],
)
def test_bad_histories_raise(
    hours: list[float], values: list[list[float]], running: list[bool], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SignalHistory(("t",), np.asarray(hours), np.asarray(values), np.asarray(running))


def test_no_lives_raise() -> None:
    with pytest.raises(ValidationError, match="at least one life"):
        HealthModel().fit([])
