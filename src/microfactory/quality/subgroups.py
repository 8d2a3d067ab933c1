"""Measurements grouped into rational subgroups, with vectorized per-subgroup statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def as_values(values: ArrayLike, name: str = "values") -> FloatArray:
    """A finite one-dimensional float array, or a ValidationError naming the first bad one."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValidationError(f"{name}[{int(bad[0])}] is not a finite number")
    return arr


@dataclass(frozen=True)
class Subgroups:
    """All observations in order (``values``) cut into consecutive subgroups of ``sizes``."""

    values: FloatArray
    sizes: IntArray

    def __post_init__(self) -> None:
        if self.sizes.ndim != 1 or self.sizes.size == 0:
            raise ValidationError("there must be at least one subgroup")
        if np.any(self.sizes < 1):
            raise ValidationError("every subgroup needs at least one value")
        if int(self.sizes.sum()) != self.values.shape[0]:
            raise ValidationError("subgroup sizes do not add up to the number of values")

    @classmethod
    def of_size(cls, values: ArrayLike, size: int) -> Subgroups:
        """Consecutive values, ``size`` at a time; the count must divide evenly."""
        x = as_values(values)
        if size < 1:
            raise ValidationError(f"subgroup size must be at least 1, got {size}")
        if x.shape[0] == 0:
            raise ValidationError("no values given")
        if x.shape[0] % size:
            raise ValidationError(
                f"{x.shape[0]} values do not split into subgroups of {size} "
                f"({x.shape[0] % size} left over)"
            )
        return cls(x, np.full(x.shape[0] // size, size, dtype=np.int64))

    @classmethod
    def from_labels(cls, values: ArrayLike, labels: Sequence[object]) -> Subgroups:
        """Group by label, subgroups ordered by the first appearance of their label."""
        x = as_values(values)
        if len(labels) != x.shape[0]:
            raise ValidationError("one subgroup label is needed per value")
        if x.shape[0] == 0:
            raise ValidationError("no values given")
        first: dict[object, int] = {}
        codes = np.fromiter(
            (first.setdefault(lab, len(first)) for lab in labels), dtype=np.int64, count=len(labels)
        )
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes).astype(np.int64)
        return cls(x[order], sizes)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float]] | ArrayLike) -> Subgroups:
        """One subgroup per row (rows may differ in length when given as a list of lists)."""
        if isinstance(rows, np.ndarray) and rows.ndim == 2:
            return cls.of_size(rows.reshape(-1), rows.shape[1])
        seqs = [np.asarray(r, dtype=np.float64).reshape(-1) for r in rows]  # type: ignore[union-attr]
        if not seqs:
            raise ValidationError("no subgroups given")
        return cls(as_values(np.concatenate(seqs)), np.array([s.size for s in seqs], np.int64))

    @property
    def count(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def equal_sizes(self) -> bool:
        return bool(np.all(self.sizes == self.sizes[0]))

    @property
    def starts(self) -> IntArray:
        return np.concatenate(([0], np.cumsum(self.sizes)[:-1])).astype(np.int64)

    def means(self) -> FloatArray:
        if self.equal_sizes:
            return np.asarray(self.values.reshape(self.count, -1).mean(axis=1), dtype=np.float64)
        sums = np.add.reduceat(self.values, self.starts)
        return np.asarray(sums / self.sizes, dtype=np.float64)

    def ranges(self) -> FloatArray:
        if self.equal_sizes:
            block = self.values.reshape(self.count, -1)
            return np.asarray(block.max(axis=1) - block.min(axis=1), dtype=np.float64)
        starts = self.starts
        hi = np.maximum.reduceat(self.values, starts)
        lo = np.minimum.reduceat(self.values, starts)
        return np.asarray(hi - lo, dtype=np.float64)

    def stds(self) -> FloatArray:
        """Sample standard deviations (ddof = 1); NaN for a subgroup of one."""
        if self.equal_sizes:
            block = self.values.reshape(self.count, -1)
            if block.shape[1] < 2:
                return np.full(self.count, np.nan)
            return np.asarray(block.std(axis=1, ddof=1), dtype=np.float64)
        dev = self.values - np.repeat(self.means(), self.sizes)
        ss = np.add.reduceat(dev * dev, self.starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sqrt(ss / (self.sizes - 1))
        return np.asarray(np.where(self.sizes > 1, out, np.nan), dtype=np.float64)
