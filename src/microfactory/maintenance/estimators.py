"""Input checks shared by the maintenance estimators (scikit-learn's contract, our errors)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import validate_data

from microfactory.core import NotFittedError, ValidationError


class ModelNotFittedError(NotFittedError, SklearnNotFittedError):  # type: ignore[misc]
    """A model used before `fit`: microfactory's `NotFittedError` (mapped to an exit code and
    an HTTP status like every microfactory error) that scikit-learn recognises as its own."""


def check_fitted(estimator: object, attribute: str) -> None:
    """Raise `NotFittedError` when `attribute` (learned state) is missing."""
    if not hasattr(estimator, attribute):
        raise ModelNotFittedError(f"{type(estimator).__name__} is not fitted; call fit first")


def check_xy(estimator: BaseEstimator, x: Any, y: Any) -> tuple[NDArray[np.float64], Any]:
    """Validate a training set (finite, 2-D X, matching y) and record `n_features_in_`."""
    try:
        return validate_data(estimator, x, y, dtype=np.float64, y_numeric=True)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def check_xy_labels(estimator: BaseEstimator, x: Any, y: Any) -> tuple[NDArray[np.float64], Any]:
    """Like `check_xy` for class labels."""
    try:
        return validate_data(estimator, x, y, dtype=np.float64)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def check_x(estimator: BaseEstimator, x: Any, *, reset: bool) -> NDArray[np.float64]:
    """Validate X; on `reset=False` also check the column count against the fitted one."""
    try:
        return validate_data(estimator, x, dtype=np.float64, reset=reset)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
