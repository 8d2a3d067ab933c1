"""Each run rule fires on a minimal crafted sequence, at the point completing the pattern,
and not on the same sequence with one point fewer. Centre 0, sigma 1 throughout."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from microfactory.quality.rules import (
    NELSON_RULES,
    WESTERN_ELECTRIC_RULES,
    Violation,
    evaluate_rules,
    select_rules,
)


def fired(rule: str, points: list[float]) -> list[int]:
    return [v.index for v in evaluate_rules(points, 0.0, 1.0, rules=[rule])]


# (rule, minimal sequence, index of the completing point)
MINIMAL = [
    ("nelson-1", [3.5], 0),  # one point beyond +3σ
    ("nelson-2", [0.5] * 9, 8),  # nine on one side
    ("nelson-3", [-1.0, -0.6, -0.2, 0.2, 0.6, 1.0], 5),  # six steadily increasing
    ("nelson-4", [0.2, -0.2] * 7, 13),  # fourteen alternating
    ("nelson-5", [2.5, 2.5], 1),  # two of (at most) three beyond +2σ
    ("nelson-6", [-1.5] * 4, 3),  # four of five beyond -1σ
    ("nelson-7", [0.5, -0.5] * 7 + [0.5], 14),  # fifteen within 1σ
    ("nelson-8", [1.5, -1.5] * 4, 7),  # eight beyond 1σ, both sides
    ("we-1", [-3.2], 0),  # one point beyond -3σ
    ("we-2", [-2.5, -2.5], 1),  # two of three beyond -2σ
    ("we-3", [1.5] * 4, 3),  # four of five beyond +1σ
    ("we-4", [-0.5] * 8, 7),  # eight on one side
]


@pytest.mark.parametrize(("rule", "points", "index"), MINIMAL, ids=[m[0] for m in MINIMAL])
def test_rule_fires_on_minimal_sequence(rule: str, points: list[float], index: int) -> None:
    assert fired(rule, points) == [index]


@pytest.mark.parametrize(("rule", "points", "index"), MINIMAL, ids=[m[0] for m in MINIMAL])
def test_rule_does_not_fire_with_one_point_fewer(
    rule: str, points: list[float], index: int
) -> None:
    assert fired(rule, points[:-1]) == []


def test_run_of_eleven_reports_the_ninth_tenth_and_eleventh_points() -> None:
    # The example, 1-based points 9, 10, 11 = 0-based indices 8, 9, 10.
    assert fired("nelson-2", [0.3] * 11 + [-0.3]) == [8, 9, 10]


@pytest.mark.parametrize(
    ("rule", "points"),
    [
        ("nelson-1", [3.0]),  # exactly on the limit is not beyond it
        ("nelson-2", [0.5] * 4 + [0.0] + [0.5] * 4),  # a point on the centre line breaks the run
        ("nelson-3", [0.0, 0.1, 0.2, 0.2, 0.3, 0.4]),  # a tie breaks the trend
        ("nelson-4", [0.2, -0.2] * 3 + [0.2, 0.2] + [-0.2, 0.2] * 3),  # two ups in a row
        ("nelson-5", [2.5, -2.5]),  # beyond 2σ but on different sides
        ("nelson-5", [2.5, 0.0, 0.0, 2.5]),  # the two are four points apart
        ("nelson-6", [1.5, 1.5, 0.0, 0.0, 1.5, 1.5]),  # only three of any five
        ("nelson-7", [0.5] * 7 + [1.0] + [0.5] * 7),  # a point exactly at 1σ is not within
        ("nelson-8", [1.5] * 4 + [0.5] + [1.5] * 4),  # one point inside ±1σ
        ("we-4", [0.5] * 7 + [-0.5] + [0.5] * 7),  # the side changes
    ],
)
def test_rule_does_not_fire_on_near_misses(rule: str, points: list[float]) -> None:
    assert fired(rule, points) == []


def test_k_of_m_completing_point_must_be_beyond_the_zone() -> None:
    # [A, A, C]: the pattern completes at index 1; index 2 (in zone C) completes nothing.
    assert fired("nelson-5", [2.5, 2.5, 0.0]) == [1]


def test_violations_are_sorted_by_index_then_rule() -> None:
    found = evaluate_rules([3.5, 3.5], 0.0, 1.0, rules="nelson")
    assert found == [
        Violation(0, "nelson-1"),
        Violation(1, "nelson-1"),
        Violation(1, "nelson-5"),
    ]


def test_per_point_limits_override_the_three_sigma_default() -> None:
    # An attribute chart clips its LCL at 0; a point at 0 is not below it.
    found = evaluate_rules([0.0, 5.0], [1.0, 1.0], [0.5, 0.5], rules=["nelson-1"], lcl=0.0, ucl=2.5)
    assert [v.index for v in found] == [1]


def test_selectors_resolve_to_rule_sets() -> None:
    assert select_rules("nelson") == NELSON_RULES
    assert select_rules("western-electric") == WESTERN_ELECTRIC_RULES
    assert select_rules("we-4,nelson-1") == ("nelson-1", "we-4")


@pytest.mark.parametrize(
    "spec",
    [
        "nelson-9",  # there are eight Nelson rules
        "westernelectric",  # misspelt set name
        ["we-5"],  # there are four Western Electric rules
    ],
)
def test_unknown_rules_are_rejected(spec: str | list[str]) -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        select_rules(spec)


def test_vectorized_rules_agree_with_per_point_implementation(
    per_point_rules: ModuleType,
) -> None:
    rng = np.random.default_rng(7)
    # Mix regimes so every rule fires somewhere: noise, shifts, a trend, an alternation.
    parts = [
        rng.normal(0, 1, 3000),
        rng.normal(1.2, 1, 500),
        np.linspace(-2, 2, 40),
        np.tile([0.4, -0.4], 20),
        rng.normal(0, 0.3, 300),
        rng.normal(-1.8, 0.5, 200),
    ]
    x = np.concatenate(parts).round(2)
    vectorized = [(v.index, v.rule) for v in evaluate_rules(x, 0.0, 1.0, rules="nelson")]
    expected = per_point_rules.nelson_violations(x.tolist(), 0.0, 1.0)
    assert {rule for _, rule in expected} == set(NELSON_RULES)
    assert vectorized == expected
