"""Windowed features of multivariate run histories, computed at every cut point.

For each row t of a unit only rows 1..t of that unit are used, so the feature row of the
last observed cycle of a truncated test unit is computed exactly like any training row
(no look-ahead). Per signal and per window length w the pipeline gives the trailing mean,
standard deviation and least-squares slope over the last min(w, t) rows; plus the last
value, exponentially weighted means, the change from the unit's own early-life baseline
and the unit's age. All window statistics come from cumulative sums, so the cost is linear
in the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from microfactory.core import ValidationError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class WindowSpec:
    """Which statistics to compute. Window lengths are in rows (cycles, samples)."""

    mean_windows: tuple[int, ...] = (5, 10, 20, 30)
    std_windows: tuple[int, ...] = (10, 30)
    slope_windows: tuple[int, ...] = (10, 20, 40)
    ewm_spans: tuple[float, ...] = (10.0, 40.0)
    baseline_rows: int = 15
    include_age: bool = True

    def __post_init__(self) -> None:
        for name in ("mean_windows", "std_windows", "slope_windows"):
            if any(w < 1 for w in getattr(self, name)):
                raise ValueError(f"{name} must hold window lengths of at least 1")
        if any(s < 1 for s in self.ewm_spans):
            raise ValueError("ewm_spans must be at least 1")
        if self.baseline_rows < 0:
            raise ValueError("baseline_rows must not be negative")


def feature_names(signals: Sequence[str], spec: WindowSpec) -> list[str]:
    """Names of the columns `window_features` returns, in order."""
    names: list[str] = []
    for s in signals:
        names.append(f"{s}__last")
        names += [f"{s}__mean{w}" for w in spec.mean_windows]
        names += [f"{s}__std{w}" for w in spec.std_windows]
        names += [f"{s}__slope{w}" for w in spec.slope_windows]
        names += [f"{s}__ewm{int(a)}" for a in spec.ewm_spans]
        if spec.baseline_rows:
            names.append(f"{s}__drift")
    if spec.include_age:
        names.append("age")
    return names


def _trailing_sum(c: FloatArray, w: int) -> FloatArray:
    """Given cumulative sums c (with a leading zero row), the sum over the last min(w, t)."""
    n = c.shape[0] - 1
    idx = np.arange(1, n + 1)
    lo = np.maximum(idx - w, 0)
    out: FloatArray = c[idx] - c[lo]
    return out


def _ewm(y: FloatArray, span: float) -> FloatArray:
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(y)
    acc = y[0].copy()
    weight = 1.0
    num = y[0].copy()
    out[0] = acc
    for i in range(1, y.shape[0]):
        num = num * (1 - alpha) + y[i]
        weight = weight * (1 - alpha) + 1.0
        out[i] = num / weight
    return out


def _unit_features(y: FloatArray, spec: WindowSpec) -> FloatArray:
    n, k = y.shape
    t = np.arange(n, dtype=np.float64)
    zero = np.zeros((1, k))
    cy = np.vstack([zero, np.cumsum(y, axis=0)])
    cy2 = np.vstack([zero, np.cumsum(y * y, axis=0)])
    cty = np.vstack([zero, np.cumsum(t[:, None] * y, axis=0)])
    ct = np.concatenate([[0.0], np.cumsum(t)])[:, None]
    ct2 = np.concatenate([[0.0], np.cumsum(t * t)])[:, None]
    blocks: list[FloatArray] = [y]
    for w in spec.mean_windows:
        cnt = np.minimum(np.arange(1, n + 1), w)[:, None].astype(np.float64)
        blocks.append(_trailing_sum(cy, w) / cnt)
    for w in spec.std_windows:
        cnt = np.minimum(np.arange(1, n + 1), w)[:, None].astype(np.float64)
        m = _trailing_sum(cy, w) / cnt
        var = _trailing_sum(cy2, w) / cnt - m * m
        blocks.append(np.sqrt(np.maximum(var, 0.0)))
    for w in spec.slope_windows:
        cnt = np.minimum(np.arange(1, n + 1), w)[:, None].astype(np.float64)
        sy = _trailing_sum(cy, w)
        sty = _trailing_sum(cty, w)
        st = _trailing_sum(ct, w)
        st2 = _trailing_sum(ct2, w)
        den = cnt * st2 - st * st
        num = cnt * sty - st * sy
        blocks.append(np.divide(num, den, out=np.zeros_like(num), where=den > 1e-12))
    for span in spec.ewm_spans:
        blocks.append(_ewm(y, span))
    if spec.baseline_rows:
        b = spec.baseline_rows
        cnt = np.minimum(np.arange(1, n + 1), b)[:, None].astype(np.float64)
        base = cy[np.minimum(np.arange(1, n + 1), b)] / cnt
        recent = _trailing_sum(cy, spec.mean_windows[0] if spec.mean_windows else 1)
        rcnt = np.minimum(np.arange(1, n + 1), spec.mean_windows[0] if spec.mean_windows else 1)
        blocks.append(recent / rcnt[:, None] - base)
    # Interleave per signal: block j holds all signals; reorder to signal-major.
    stacked = np.stack(blocks, axis=2)  # (n, k, n_blocks)
    out = stacked.reshape(n, k * len(blocks))
    if spec.include_age:
        out = np.hstack([out, (t + 1.0)[:, None]])
    return out


def window_features(
    values: FloatArray,
    groups: Sequence[slice],
    spec: WindowSpec,
    *,
    last_only: bool = False,
) -> FloatArray:
    """Features at every row (or only each group's last row) of `values` (n_rows, n_signals).

    `groups` are contiguous row slices, one per unit, in time order within each.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise ValidationError("values must be 2-D (rows x signals)")
    if not np.all(np.isfinite(x)):
        raise ValidationError("values hold NaN or infinite entries")
    parts: list[FloatArray] = []
    for g in groups:
        y = x[g]
        if y.shape[0] == 0:
            raise ValidationError("a unit has no rows")
        f = _unit_features(y, spec)
        parts.append(f[-1:] if last_only else f)
    if not parts:
        raise ValidationError("no units to featurize")
    return np.vstack(parts)
