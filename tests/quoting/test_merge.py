"""Merging equal corners: the hashed sort gives the same vertices as an exact row sort, also
when hashes collide."""

from __future__ import annotations

import numpy as np
import pytest

from microfactory.quoting import intake
from microfactory.quoting.intake import merge_exact


def _soup(dtype: type) -> np.ndarray:
    rng = np.random.default_rng(7)
    corners = rng.normal(size=(500, 3)).astype(dtype)
    corners[:10] = 0.0  # zeros, including -0.0 below, are distinct bit patterns
    corners[5] = -0.0
    return corners[rng.integers(0, 500, size=6000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # binary STL / everything else
def test_merge_finds_each_distinct_row_once(dtype: type) -> None:
    points = _soup(dtype)
    unique, inverse = merge_exact(points)
    assert unique.dtype == np.float64
    assert np.array_equal(unique[inverse], points.astype(np.float64))
    # as many rows as distinct bit patterns (exact merge: nothing within a tolerance)
    distinct = np.unique(points.view(f"V{3 * points.itemsize}"))
    assert len(unique) == len(distinct)


def test_merge_is_exact_when_every_hash_collides(monkeypatch: pytest.MonkeyPatch) -> None:
    points = _soup(np.float64)
    monkeypatch.setattr(intake, "_mix64", lambda v: np.zeros_like(v))
    unique, inverse = merge_exact(points)
    assert np.array_equal(unique[inverse], points)
    assert len(unique) == len(np.unique(points, axis=0))
