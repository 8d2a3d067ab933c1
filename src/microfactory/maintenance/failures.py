"""Failure classification: will this process / machine state end in a failure?

`FailureClassifier` is a scikit-learn binary classifier (LightGBM underneath) with a
decision threshold on the failure probability. `cross_validate_failures` runs the
benchmark protocol: stratified k-fold with a fixed seed, scores pooled over the folds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from microfactory.core import ValidationError
from microfactory.maintenance.estimators import check_fitted, check_x, check_xy_labels
from microfactory.maintenance.metrics import binary_scores

FloatArray = NDArray[np.float64]


class FailureClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted failure classifier. With two classes `predict` thresholds the
    probability of the larger label (the failure) at `threshold`, or, with "auto", at the
    F1-best threshold found by an inner cross-validation on the training data; with more
    classes it takes the likeliest."""

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 3,
        threshold: float | str = "auto",
        inner_folds: int = 3,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.threshold = threshold
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> FailureClassifier:
        from sklearn.utils.multiclass import type_of_target

        auto = isinstance(self.threshold, str)
        if auto and self.threshold != "auto":
            raise ValidationError('threshold must be a probability in (0, 1) or "auto"')
        if not auto and not 0.0 < float(self.threshold) < 1.0:
            raise ValidationError("threshold must be in (0, 1)")
        x, labels = check_xy_labels(self, X, y)
        kind = type_of_target(labels)
        if kind not in ("binary", "multiclass"):
            raise ValidationError(f"Unknown label type: {kind}; a binary target is expected")
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValidationError("y holds only one class; failures and non-failures are needed")
        encoded = np.searchsorted(self.classes_, labels)
        self.model_ = self._booster().fit(x, encoded)
        self.threshold_ = self._choose_threshold(x, encoded) if auto else float(self.threshold)
        return self

    def _booster(self) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def _choose_threshold(self, x: FloatArray, encoded: NDArray[np.int64]) -> float:
        """The F1-best threshold on out-of-fold probabilities of the training data itself
        (inner stratified k-fold), so that choosing it never looks at data under test."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(encoded)
        if len(counts) != 2 or counts.min() < self.inner_folds or self.inner_folds < 2:
            return 0.5
        proba = np.zeros(len(encoded))
        splitter = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        for train, test in splitter.split(x, encoded):
            proba[test] = self._booster().fit(x[train], encoded[train]).predict_proba(x[test])[:, 1]
        grid = np.linspace(0.05, 0.95, 91)
        f1 = [binary_scores(encoded, proba >= g)["f1"] for g in grid]
        return float(grid[int(np.argmax(f1))])

    def predict_proba(self, X: Any) -> FloatArray:
        check_fitted(self, "model_")
        x = check_x(self, X, reset=False)
        proba: FloatArray = np.asarray(self.model_.predict_proba(x), dtype=np.float64)
        return proba

    def predict(self, X: Any) -> NDArray[Any]:
        proba = self.predict_proba(X)
        if len(self.classes_) == 2:
            index = (proba[:, 1] >= self.threshold_).astype(np.int64)
        else:
            index = np.argmax(proba, axis=1)
        labels: NDArray[Any] = self.classes_[index]
        return labels


def cross_validate_failures(
    x: FloatArray,
    y: NDArray[np.int64],
    classifier: FailureClassifier | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Stratified k-fold (shuffled with `seed`); precision, recall, F1 and PR-AUC (average
    precision) of the failure class, computed on the out-of-fold predictions of all folds."""
    from sklearn.base import clone
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(y)
    if set(np.unique(labels)) - {0, 1}:
        raise ValidationError("failure labels must be 0 or 1")
    if int(labels.sum()) < folds:
        raise ValidationError(f"fewer than {folds} failures: cannot stratify {folds} folds")
    base = classifier if classifier is not None else FailureClassifier()
    proba = np.zeros(len(labels))
    predicted = np.zeros(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, labels):
        model = clone(base).fit(x[train], labels[train])
        proba[test] = model.predict_proba(x[test])[:, 1]
        predicted[test] = model.predict(x[test])
    scores = binary_scores(labels, predicted)
    scores["pr_auc"] = float(average_precision_score(labels, proba))
    return scores
