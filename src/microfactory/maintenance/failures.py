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
    probability of the larger label (the failure); with more it takes the likeliest."""

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 3,
        threshold: float = 0.5,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.threshold = threshold
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> FailureClassifier:
        import lightgbm as lgb
        from sklearn.utils.multiclass import type_of_target

        if not 0.0 < self.threshold < 1.0:
            raise ValidationError("threshold must be in (0, 1)")
        x, labels = check_xy_labels(self, X, y)
        kind = type_of_target(labels)
        if kind not in ("binary", "multiclass"):
            raise ValidationError(f"Unknown label type: {kind}; a binary target is expected")
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValidationError("y holds only one class; failures and non-failures are needed")
        encoded = np.searchsorted(self.classes_, labels)
        self.model_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        self.model_.fit(x, encoded)
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        check_fitted(self, "model_")
        x = check_x(self, X, reset=False)
        proba: FloatArray = np.asarray(self.model_.predict_proba(x), dtype=np.float64)
        return proba

    def predict(self, X: Any) -> NDArray[Any]:
        proba = self.predict_proba(X)
        if len(self.classes_) == 2:
            index = (proba[:, 1] >= self.threshold).astype(np.int64)
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
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, labels):
        model = clone(base).fit(x[train], labels[train])
        proba[test] = model.predict_proba(x[test])[:, 1]
    scores = binary_scores(labels, proba >= base.threshold)
    scores["pr_auc"] = float(average_precision_score(labels, proba))
    return scores
