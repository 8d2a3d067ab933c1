"""RMSE and the PHM08 score against values computed by hand."""

from __future__ import annotations

import math

import pytest

from microfactory.core import ValidationError
from microfactory.maintenance.metrics import binary_scores, nasa_score, rmse


def test_rmse_by_hand() -> None:
    # errors 3 and -4: sqrt((9 + 16) / 2)
    assert rmse([10, 20], [13, 16]) == pytest.approx(math.sqrt(12.5))


def test_score_penalises_late_more_than_early() -> None:
    # d = -13 (early): e^1 - 1; d = +10 (late): e^1 - 1; d = 0: 0
    assert nasa_score([50, 50, 50], [37, 50, 60]) == pytest.approx(2 * (math.e - 1))


def test_score_of_single_late_and_early_unit() -> None:
    assert nasa_score([100], [120]) == pytest.approx(math.exp(2) - 1)  # late by 20
    assert nasa_score([100], [74]) == pytest.approx(math.exp(2) - 1)  # early by 26


def test_binary_scores_by_hand() -> None:
    # tp = 2, fp = 1, fn = 1 -> precision 2/3, recall 2/3, f1 2/3
    s = binary_scores([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("true", "pred"),
    [
        ([1, 2], [1]),  # lengths differ
        ([], []),  # nothing to compare
        ([1.0, float("nan")], [1.0, 2.0]),  # NaN
    ],
)
def test_bad_metric_input_raises(true: list[float], pred: list[float]) -> None:
    with pytest.raises(ValidationError):
        rmse(true, pred)
    with pytest.raises(ValidationError):
        nasa_score(true, pred)
