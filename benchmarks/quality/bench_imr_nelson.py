"""Benchmark: N individual values through an I-MR chart with all eight Nelson rules.

Compares, in the same run and on the same data, microfactory's vectorized chart
(``microfactory.quality.variables_charts.imr_chart``: limits, moving ranges, every rule,
violation objects) with a straightforward per-point Python loop (``per_point_rules.py``),
and checks that both report the same violations. Prints one JSON object.

    nice -n 10 .venv/bin/python benchmarks/quality/bench_imr_nelson.py --points 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from per_point_rules import imr_limits, nelson_violations

from microfactory.quality.variables_charts import imr_chart


def make_data(points: int, seed: int) -> np.ndarray:
    """In-control noise with a few shifts, trends and a quiet stretch every 100,000 points."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, points)
    for start in range(50_000, points, 100_000):
        x[start : start + 200] += 1.5  # mean shift
        x[start + 300 : start + 310] = np.linspace(-1, 2, 10)  # trend
        x[start + 400 : start + 420] *= 0.2  # stratification
    return x


def best_of(repeats: int, fn: object) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x = make_data(args.points, args.seed)
    imr_chart(x[:1000], rules="nelson")  # warm the constants cache and imports

    vec_s, result = best_of(args.repeats, lambda: imr_chart(x, rules="nelson"))
    values = x.tolist()

    def per_point() -> tuple[float, float, list[tuple[int, str]]]:
        center, sigma = imr_limits(values)
        return center, sigma, nelson_violations(values, center, sigma)

    loop_s, loop_out = best_of(1, per_point)
    i_series = result.series("i")  # type: ignore[attr-defined]
    vectorized = [(v.index, v.rule) for v in i_series.violations]
    _, _, expected = loop_out  # type: ignore[misc]
    print(
        json.dumps(
            {
                "benchmark": "imr + nelson-1..8",
                "points": args.points,
                "violations": len(vectorized),
                "same_violations": vectorized == expected,
                "vectorized_s": round(vec_s, 4),
                "per_point_python_s": round(loop_s, 3),
                "speedup": round(loop_s / vec_s, 1),
                "target_s": 1.0,
                "meets_target": vec_s <= 1.0,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}, numpy {np.__version__}",
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            }
        )
    )


if __name__ == "__main__":
    main()
