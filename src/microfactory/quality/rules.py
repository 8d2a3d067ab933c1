"""Run rules for control charts: the eight Nelson rules and the four Western Electric rules.

Every rule is evaluated for all points at once with numpy (run lengths by cumulative maxima,
window counts by cumulative sums), so a million points take milliseconds.

Semantics (Nelson, J. Quality Technology 16(4), 1984; Western Electric Statistical Quality
Control Handbook, 1956; the wording Minitab uses for its "tests for special causes"):

* A violation is reported at the index of every point that completes the pattern, so a run
  of 11 points above the centre line reports the 9th, 10th and 11th points under ``nelson-2``.
  Indices are **0-based** positions in the chart's ``points`` array: a run of 11 starting at
  index 0 reports indices 8, 9 and 10.
* "Beyond kσ" is strict (a point exactly on a limit or zone boundary is not beyond it); a
  point exactly on the centre line is on neither side and breaks a same-side run; equal
  neighbours break a trend and an alternation.
* For the "k of m" rules (``nelson-5``/``we-2``, ``nelson-6``/``we-3``) the completing point
  must itself be one of the k points beyond the zone, on the same side; windows at the start
  of the series may be shorter than m (two first points beyond 2σ fire).

| id | pattern |
|---|---|
| nelson-1, we-1 | 1 point beyond a control limit (3σ) |
| nelson-2 | 9 points in a row on the same side of the centre line |
| nelson-3 | 6 points in a row steadily increasing or decreasing |
| nelson-4 | 14 points in a row alternating up and down |
| nelson-5, we-2 | 2 of 3 points in a row beyond 2σ, same side |
| nelson-6, we-3 | 4 of 5 points in a row beyond 1σ, same side |
| nelson-7 | 15 points in a row within 1σ of the centre line (either side) |
| nelson-8 | 8 points in a row beyond 1σ, either side |
| we-4 | 8 points in a row on the same side of the centre line |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError

NELSON_RULES: tuple[str, ...] = tuple(f"nelson-{k}" for k in range(1, 9))
WESTERN_ELECTRIC_RULES: tuple[str, ...] = tuple(f"we-{k}" for k in range(1, 5))
ALL_RULES: tuple[str, ...] = NELSON_RULES + WESTERN_ELECTRIC_RULES
RULE_SETS: dict[str, tuple[str, ...]] = {
    "nelson": NELSON_RULES,
    "western-electric": WESTERN_ELECTRIC_RULES,
    "we": WESTERN_ELECTRIC_RULES,
    "none": (),
}
_ORDER = {rule: k for k, rule in enumerate(ALL_RULES)}

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, order=True)
class Violation:
    """One rule firing: ``index`` is the 0-based point that completes the pattern."""

    index: int
    rule: str

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "index": self.index}


def select_rules(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Resolve ``"nelson"``, ``"western-electric"`` or an explicit list of rule ids."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in RULE_SETS:
            return RULE_SETS[key]
        parts = [p.strip().lower() for p in key.split(",") if p.strip()]
    else:
        parts = [str(p).strip().lower() for p in spec]
    unknown = [p for p in parts if p not in _ORDER]
    if unknown:
        raise ValidationError(
            f"unknown rule(s) {', '.join(unknown)}; use nelson, western-electric or ids "
            f"from {', '.join(ALL_RULES)}"
        )
    return tuple(sorted(set(parts), key=_ORDER.__getitem__))


def limit_rule(rules: Iterable[str]) -> tuple[str, ...]:
    """The "beyond a control limit" rule in the vocabulary of the selected set (or nelson-1)."""
    chosen = tuple(rules)
    if "we-1" in chosen and "nelson-1" not in chosen:
        return ("we-1",)
    if not chosen:
        return ()
    return ("nelson-1",)


def _level(value: ArrayLike, n: int, name: str) -> float | FloatArray:
    """A scalar stays a scalar (and a constant array becomes one): cheaper comparisons."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have one value per point ({n})")
    if n and bool(np.all(arr == arr[0])):
        return float(arr[0])
    return arr


class _Windows:
    """Cumulative sums of a mask, so any "k of the last m" count is one subtraction."""

    def __init__(self, mask: BoolArray) -> None:
        self.mask = mask
        n = mask.shape[0]
        dtype = np.int32 if n < 2**31 - 1 else np.int64
        self.csum = np.empty(n + 1, dtype=dtype)
        self.csum[0] = 0
        np.cumsum(mask, dtype=dtype, out=self.csum[1:])

    def count(self, width: int) -> NDArray[np.signedinteger[Any]]:
        """True values among the last ``width`` positions (fewer at the start)."""
        n = self.mask.shape[0]
        out = self.csum[1:].copy()
        if width < n + 1:
            out[width:] -= self.csum[1 : n + 1 - width]
        return out

    def run_at_least(self, length: int) -> BoolArray:
        """Positions ending a run of at least ``length`` True values."""
        n = self.mask.shape[0]
        out = np.zeros(n, dtype=bool)
        if length <= n:
            np.equal(
                self.csum[length:] - self.csum[: n + 1 - length], length, out=out[length - 1 :]
            )
        return out


def _trend(x: FloatArray, length: int) -> BoolArray:
    """Points ending ``length`` points in a row, each strictly above (or below) the last."""
    out = np.zeros(x.shape[0], dtype=bool)
    if x.shape[0] < length:
        return out
    diff = np.diff(x)
    needed = length - 1
    out[1:] = _Windows(diff > 0).run_at_least(needed) | _Windows(diff < 0).run_at_least(needed)
    return out


def _alternating(x: FloatArray, length: int) -> BoolArray:
    """Points ending ``length`` points in a row that alternate up and down."""
    out = np.zeros(x.shape[0], dtype=bool)
    if x.shape[0] < length:
        return out
    sign = np.sign(np.diff(x))
    flips = (sign[1:] * sign[:-1]) < 0  # flips[j]: diffs j and j+1 change direction
    out[2:] = _Windows(flips).run_at_least(length - 2)
    return out


def rule_masks(
    points: ArrayLike,
    center: ArrayLike,
    sigma: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    ucl: ArrayLike | None = None,
    lcl: ArrayLike | None = None,
) -> dict[str, BoolArray]:
    """Boolean mask per selected rule: True where that point completes the rule's pattern.

    ``center`` and ``sigma`` (the standard deviation of the plotted statistic) may be scalars
    or per-point arrays. ``ucl``/``lcl`` default to ``center ± 3σ``; pass them when a limit is
    clipped (an attribute chart's LCL at zero). NaN points never take part in a pattern.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("points must be one-dimensional")
    n = x.shape[0]
    c = _level(center, n, "center")
    s = _level(sigma, n, "sigma")
    upper = c + 3.0 * s if ucl is None else _level(ucl, n, "ucl")
    lower = c - 3.0 * s if lcl is None else _level(lcl, n, "lcl")
    chosen = select_rules(rules)
    # NaN compares False everywhere, so a missing point breaks runs and counts nothing.
    cache: dict[str, _Windows] = {}
    zones: dict[str, Callable[[], BoolArray]] = {
        "above": lambda: x > c,
        "below": lambda: x < c,
        "hi2": lambda: x > c + 2.0 * s,
        "lo2": lambda: x < c - 2.0 * s,
        "hi1": lambda: x > c + s,
        "lo1": lambda: x < c - s,
        "in1": lambda: np.abs(x - c) < s,
        "out1": lambda: zone("hi1").mask | zone("lo1").mask,
    }

    def zone(key: str) -> _Windows:
        if key not in cache:
            cache[key] = _Windows(zones[key]())
        return cache[key]

    def k_of_m(hi: str, lo: str, k: int, m: int) -> BoolArray:
        up, down = zone(hi), zone(lo)
        return (up.mask & (up.count(m) >= k)) | (down.mask & (down.count(m) >= k))

    masks: dict[str, BoolArray] = {}
    for rule in chosen:
        if rule in ("nelson-1", "we-1"):
            masks[rule] = (x > upper) | (x < lower)
        elif rule in ("nelson-2", "we-4"):
            length = 9 if rule == "nelson-2" else 8
            masks[rule] = zone("above").run_at_least(length) | zone("below").run_at_least(length)
        elif rule == "nelson-3":
            masks[rule] = _trend(x, 6)
        elif rule == "nelson-4":
            masks[rule] = _alternating(x, 14)
        elif rule in ("nelson-5", "we-2"):
            masks[rule] = k_of_m("hi2", "lo2", 2, 3)
        elif rule in ("nelson-6", "we-3"):
            masks[rule] = k_of_m("hi1", "lo1", 4, 5)
        elif rule == "nelson-7":
            masks[rule] = zone("in1").run_at_least(15)
        elif rule == "nelson-8":
            masks[rule] = zone("out1").run_at_least(8)
    return masks


def evaluate_rules(
    points: ArrayLike,
    center: ArrayLike,
    sigma: ArrayLike,
    *,
    rules: str | Iterable[str] = "nelson",
    ucl: ArrayLike | None = None,
    lcl: ArrayLike | None = None,
) -> list[Violation]:
    """Every violation of the selected rules, sorted by point index, then rule id order."""
    masks = rule_masks(points, center, sigma, rules=rules, ucl=ucl, lcl=lcl)
    if not masks:
        return []
    index_parts = [np.flatnonzero(mask) for mask in masks.values()]
    code_parts = [
        np.full(ix.shape[0], _ORDER[rule]) for rule, ix in zip(masks, index_parts, strict=True)
    ]
    indices = np.concatenate(index_parts)
    codes = np.concatenate(code_parts)
    order = np.lexsort((codes, indices))
    return [
        Violation(i, ALL_RULES[r])
        for i, r in zip(indices[order].tolist(), codes[order].tolist(), strict=True)
    ]
