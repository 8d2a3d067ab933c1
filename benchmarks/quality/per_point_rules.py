"""A straightforward per-point Python implementation of I-MR limits and the eight Nelson rules.

This is the peer in the benchmark and an independent cross-check in the tests: it walks the
points one at a time with plain Python state (run counters and small deques), the way a
typical hand-written SPC loop does. Same semantics as ``microfactory.quality.rules``.
"""

from __future__ import annotations

import itertools
from collections import deque

D2_2 = 1.128379167095513  # 2/sqrt(pi): mean range of two standard normals


def imr_limits(values: list[float]) -> tuple[float, float]:
    """(centre, sigma) of an individuals chart: mean and MR̄/d2(2)."""
    total = 0.0
    for v in values:
        total += v
    mr_total = 0.0
    for a, b in itertools.pairwise(values):
        mr_total += abs(b - a)
    return total / len(values), mr_total / (len(values) - 1) / D2_2


def nelson_violations(values: list[float], center: float, sigma: float) -> list[tuple[int, str]]:
    """(index, rule) for every point completing a Nelson pattern, in index then rule order."""
    out: list[tuple[int, str]] = []
    above = below = 0
    up = down = 0
    alt = 0
    within = beyond = 0
    prev: float | None = None
    prev_sign = 0
    last3: deque[int] = deque(maxlen=3)  # +1 beyond +2σ, -1 beyond -2σ, 0 otherwise
    last5: deque[int] = deque(maxlen=5)  # same for 1σ
    for i, x in enumerate(values):
        d = x - center
        if abs(d) > 3 * sigma:
            out.append((i, "nelson-1"))
        above = above + 1 if d > 0 else 0
        below = below + 1 if d < 0 else 0
        if above >= 9 or below >= 9:
            out.append((i, "nelson-2"))
        sign = 0
        if prev is not None:
            sign = 1 if x > prev else (-1 if x < prev else 0)
            up = up + 1 if sign > 0 else 0
            down = down + 1 if sign < 0 else 0
            alt = alt + 1 if sign != 0 and prev_sign != 0 and sign != prev_sign else 0
        if up >= 5 or down >= 5:
            out.append((i, "nelson-3"))
        if alt >= 12:
            out.append((i, "nelson-4"))
        z2 = 1 if d > 2 * sigma else (-1 if d < -2 * sigma else 0)
        last3.append(z2)
        if z2 != 0 and sum(1 for z in last3 if z == z2) >= 2:
            out.append((i, "nelson-5"))
        z1 = 1 if d > sigma else (-1 if d < -sigma else 0)
        last5.append(z1)
        if z1 != 0 and sum(1 for z in last5 if z == z1) >= 4:
            out.append((i, "nelson-6"))
        within = within + 1 if abs(d) < sigma else 0
        if within >= 15:
            out.append((i, "nelson-7"))
        beyond = beyond + 1 if z1 != 0 else 0
        if beyond >= 8:
            out.append((i, "nelson-8"))
        prev, prev_sign = x, sign
    return out


def western_electric_violations(
    values: list[float], center: float, sigma: float
) -> list[tuple[int, str]]:
    """(index, rule) for the four Western Electric rules, same semantics as above."""
    out: list[tuple[int, str]] = []
    above = below = 0
    last3: deque[int] = deque(maxlen=3)
    last5: deque[int] = deque(maxlen=5)
    for i, x in enumerate(values):
        d = x - center
        if abs(d) > 3 * sigma:
            out.append((i, "we-1"))
        z2 = 1 if d > 2 * sigma else (-1 if d < -2 * sigma else 0)
        last3.append(z2)
        if z2 != 0 and sum(1 for z in last3 if z == z2) >= 2:
            out.append((i, "we-2"))
        z1 = 1 if d > sigma else (-1 if d < -sigma else 0)
        last5.append(z1)
        if z1 != 0 and sum(1 for z in last5 if z == z1) >= 4:
            out.append((i, "we-3"))
        above = above + 1 if d > 0 else 0
        below = below + 1 if d < 0 else 0
        if above >= 8 or below >= 8:
            out.append((i, "we-4"))
    return out
