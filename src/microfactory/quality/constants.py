"""Control-chart constants for subgroup sizes 2..25, computed rather than copied from a table.

* ``d2(n)`` = E[W] and ``d3(n)`` = sd[W], where W is the range of n independent standard
  normal variables. Both come from numerical integration of the range distribution:
  P(W <= w) = n ∫ φ(x) [Φ(x + w) - Φ(x)]^(n-1) dx, then E[W] = ∫ P(W > w) dw and
  E[W²] = 2 ∫ w P(W > w) dw (Gauss–Legendre quadrature in both variables).
* ``c4(n)`` = E[s]/σ = sqrt(2/(n-1)) Γ(n/2) / Γ((n-1)/2) in closed form.
* The table factors follow from them (Montgomery, *Introduction to Statistical Quality
  Control*, Appendix VI): A2 = 3/(d2 √n), A3 = 3/(c4 √n), B3/B4 = 1 ∓ 3 √(1-c4²)/c4,
  B5/B6 = c4 ∓ 3 √(1-c4²), D1/D2 = d2 ∓ 3 d3, D3/D4 = 1 ∓ 3 d3/d2, E2 = 3/d2.
  Lower factors are clipped at zero, as in the published tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import special

MIN_SIZE = 2
MAX_SIZE = 25

# Quadrature grid: x over [-X_HALF, X_HALF], w over [0, W_MAX]. The integrands are negligible
# (< 1e-15) outside these intervals for n <= 25.
_X_HALF = 9.0
_W_MAX = 14.0
_NODES = 160


def _check_size(n: int, *, low: int = MIN_SIZE) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise ValueError(f"subgroup size must be an integer, got {n!r}")
    if n < low:
        raise ValueError(f"subgroup size must be at least {low}, got {n}")


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    return np.asarray(special.ndtr(x), dtype=np.float64)


@cache
def _range_moments(n: int) -> tuple[float, float]:
    """(E[W], E[W²]) for the range W of n standard normal variables."""
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    x = nodes * _X_HALF
    wx = weights * _X_HALF
    w = (nodes + 1.0) * (_W_MAX / 2.0)
    ww = weights * (_W_MAX / 2.0)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    cdf_x = _norm_cdf(x)
    # spread[i, j] = Φ(x_j + w_i) - Φ(x_j)
    spread = _norm_cdf(x[None, :] + w[:, None]) - cdf_x[None, :]
    spread = np.clip(spread, 0.0, 1.0)
    cdf_w = n * (spread ** (n - 1) * phi[None, :]) @ wx
    survival = np.clip(1.0 - cdf_w, 0.0, 1.0)
    mean = float(survival @ ww)
    second = float(2.0 * (w * survival) @ ww)
    return mean, second


def d2(n: int) -> float:
    """Mean of the relative range W = R/σ for subgroups of size n (n >= 2)."""
    _check_size(n)
    return _range_moments(int(n))[0]


def d3(n: int) -> float:
    """Standard deviation of the relative range W = R/σ for subgroups of size n (n >= 2)."""
    _check_size(n)
    mean, second = _range_moments(int(n))
    return math.sqrt(max(second - mean * mean, 0.0))


def c4(n: int) -> float:
    """E[s]/σ for a sample standard deviation of n normal observations (n >= 2)."""
    _check_size(n)
    k = int(n)
    return math.sqrt(2.0 / (k - 1)) * math.exp(math.lgamma(k / 2.0) - math.lgamma((k - 1) / 2.0))


@dataclass(frozen=True)
class ControlConstants:
    """All Shewhart factors for one subgroup size (see the module docstring for formulas)."""

    n: int
    d2: float
    d3: float
    c4: float
    a: float
    a2: float
    a3: float
    b3: float
    b4: float
    b5: float
    b6: float
    d1: float
    d2_factor: float
    d3_factor: float
    d4: float
    e2: float


@cache
def control_constants(n: int) -> ControlConstants:
    """The factors for subgroup size n; ``d2_factor``/``d3_factor`` are the table's D2/D3."""
    _check_size(n)
    k = int(n)
    dd2, dd3, cc4 = d2(k), d3(k), c4(k)
    root = math.sqrt(k)
    spread_s = 3.0 * math.sqrt(1.0 - cc4 * cc4)
    return ControlConstants(
        n=k,
        d2=dd2,
        d3=dd3,
        c4=cc4,
        a=3.0 / root,
        a2=3.0 / (dd2 * root),
        a3=3.0 / (cc4 * root),
        b3=max(0.0, 1.0 - spread_s / cc4),
        b4=1.0 + spread_s / cc4,
        b5=max(0.0, cc4 - spread_s),
        b6=cc4 + spread_s,
        d1=max(0.0, dd2 - 3.0 * dd3),
        d2_factor=dd2 + 3.0 * dd3,
        d3_factor=max(0.0, 1.0 - 3.0 * dd3 / dd2),
        d4=1.0 + 3.0 * dd3 / dd2,
        e2=3.0 / dd2,
    )
