"""Error measures of the C-MAPSS protocol (Saxena et al. 2008) and of failure prediction."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from microfactory.core import ValidationError


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValidationError(f"{t.size} true values but {p.size} predictions")
    if t.size == 0:
        raise ValidationError("no values to compare")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValidationError("values must be finite")
    return t, p


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return math.sqrt(float(np.mean((p - t) ** 2)))


def nasa_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """PHM08 asymmetric score, a sum over units: with d = pred - true,
    exp(-d/13) - 1 when early (d < 0) and exp(d/10) - 1 when late (d >= 0)."""
    t, p = _pair(y_true, y_pred)
    d = p - t
    s = np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)
    return float(np.sum(s))


def binary_scores(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> dict[str, float]:
    """Precision, recall and F1 of the positive class (0 where undefined)."""
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    if t.shape != p.shape:
        raise ValidationError(f"{t.size} labels but {p.size} predictions")
    tp = float(np.sum(t & p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
