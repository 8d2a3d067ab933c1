"""Property tests: shifting data by a constant shifts every limit by it; scaling by a
positive factor scales them (and, for exact powers of two, keeps every violation)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from microfactory.quality.charts import control_chart

values = st.lists(
    st.floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False),
    min_size=12,
    max_size=60,
).filter(lambda xs: np.ptp(xs) > 1e-3)
shift = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
charts = st.sampled_from(["imr", "xbar-r", "xbar-s", "ewma"])


def even(xs: list[float]) -> list[float]:
    return xs[: len(xs) - len(xs) % 2]


def build(chart: str, xs: list[float]) -> object:
    size = 2 if chart.startswith("xbar") else None
    return control_chart(chart, even(xs) if size else xs, subgroup_size=size)


@settings(max_examples=40, deadline=None)
@given(xs=values, c=shift, chart=charts)
def test_shift_moves_location_limits_and_keeps_dispersion(
    xs: list[float], c: float, chart: str
) -> None:
    base = build(chart, xs)
    moved = build(chart, [x + c for x in xs])
    loc0, loc1 = base.charts[0], moved.charts[0]  # type: ignore[attr-defined]
    tol = 1e-6 * (1 + abs(c) + max(abs(x) for x in xs))
    assert np.allclose(loc1.center, loc0.center + c, atol=tol)
    assert np.allclose(loc1.ucl, loc0.ucl + c, atol=tol)
    assert np.allclose(loc1.lcl, loc0.lcl + c, atol=tol)
    for s0, s1 in zip(base.charts[1:], moved.charts[1:], strict=True):  # type: ignore[attr-defined]
        assert np.allclose(s1.ucl, s0.ucl, atol=tol)


@settings(max_examples=40, deadline=None)
@given(xs=values, k=st.integers(min_value=-6, max_value=6), chart=charts)
def test_power_of_two_scaling_scales_limits_and_keeps_violations(
    xs: list[float], k: int, chart: str
) -> None:
    a = 2.0**k
    base = build(chart, xs)
    scaled = build(chart, [a * x for x in xs])
    for s0, s1 in zip(base.charts, scaled.charts, strict=True):  # type: ignore[attr-defined]
        assert np.allclose(s1.ucl, a * s0.ucl, rtol=1e-9, atol=1e-12)
        assert np.allclose(s1.lcl, a * s0.lcl, rtol=1e-9, atol=1e-12)
        assert s1.violations == s0.violations


@settings(max_examples=30, deadline=None)
@given(xs=values, a=st.floats(min_value=0.01, max_value=100))
def test_any_positive_scaling_scales_imr_limits(xs: list[float], a: float) -> None:
    base = control_chart("imr", xs)
    scaled = control_chart("imr", [a * x for x in xs])
    for s0, s1 in zip(base.charts, scaled.charts, strict=True):
        assert np.allclose(s1.center, a * s0.center, rtol=1e-9, atol=1e-9)
        assert np.allclose(s1.ucl, a * s0.ucl, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=-8, max_value=8), min_size=1, max_size=80),
)
def test_vectorized_rules_match_the_per_point_loop_on_boundary_values(
    steps: list[int], per_point_rules: object
) -> None:
    # Multiples of 0.5σ land exactly on zone boundaries, ties and the centre line.
    from microfactory.quality.rules import evaluate_rules

    x = [0.5 * s for s in steps]
    expected = per_point_rules.nelson_violations(x, 0.0, 1.0)  # type: ignore[attr-defined]
    got = [(v.index, v.rule) for v in evaluate_rules(x, 0.0, 1.0, rules="nelson")]
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=-8, max_value=8), min_size=1, max_size=80),
)
def test_western_electric_rules_match_the_per_point_loop(
    steps: list[int], per_point_rules: object
) -> None:
    from microfactory.quality.rules import evaluate_rules

    x = [0.5 * s for s in steps]
    expected = per_point_rules.western_electric_violations(x, 0.0, 1.0)  # type: ignore[attr-defined]
    got = [(v.index, v.rule) for v in evaluate_rules(x, 0.0, 1.0, rules="western-electric")]
    assert got == expected
