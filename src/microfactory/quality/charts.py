"""One entry point for every chart type, used by the CLI, the API and the services.

``control_chart(chart_type, values, ...)`` picks the chart, forms subgroups (explicit labels,
or consecutive runs of ``subgroup_size``) and runs Phase I (estimate from the data, with
optional iterative exclusion) or Phase II (``estimate`` given: frozen limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray

from microfactory.core.errors import ValidationError
from microfactory.quality.attribute_charts import c_chart, np_chart, p_chart, u_chart
from microfactory.quality.chart_model import CHART_TYPES, ChartResult, ProcessEstimate
from microfactory.quality.subgroups import Subgroups, as_values
from microfactory.quality.time_weighted_charts import cusum_chart, ewma_chart
from microfactory.quality.variables_charts import imr_chart, xbar_r_chart, xbar_s_chart

FloatArray = NDArray[np.float64]


def _subgroups(
    chart: str,
    values: FloatArray,
    labels: Sequence[object] | None,
    subgroup_size: int | None,
    default_size: int | None,
) -> Subgroups:
    if labels is not None:
        data = Subgroups.from_labels(values, labels)
        if subgroup_size is not None and np.any(data.sizes != subgroup_size):
            bad = int(np.flatnonzero(data.sizes != subgroup_size)[0])
            raise ValidationError(
                f"subgroup {bad} has {int(data.sizes[bad])} values, not --subgroup-size "
                f"{subgroup_size}"
            )
        return data
    size = subgroup_size if subgroup_size is not None else default_size
    if size is None:
        raise ValidationError(
            f"{chart} needs subgroups: give a subgroup size or a 'subgroup' column"
        )
    return Subgroups.of_size(values, size)


def _attribute_sizes(
    chart: str, count: int, sizes: ArrayLike | None, subgroup_size: int | None
) -> FloatArray:
    if sizes is not None:
        arr = np.asarray(sizes, dtype=np.float64)
        return np.full(count, float(arr)) if arr.ndim == 0 else as_values(arr, "sizes")
    if subgroup_size is None:
        raise ValidationError(
            f"a {chart} chart needs sample sizes: a 'size' column or a subgroup size"
        )
    return np.full(count, float(subgroup_size))


def _as_counts(values: FloatArray, sizes: FloatArray) -> FloatArray:
    """p-chart values may be given as fractions (all in [0, 1], some not whole)."""
    whole = np.all(values == np.round(values))
    if not whole and np.all((values >= 0) & (values <= 1)):
        return np.asarray(np.round(values * sizes, 9), dtype=np.float64)
    return values


class _Options:
    def __init__(
        self,
        rules: str | Iterable[str],
        estimate: ProcessEstimate | None,
        exclude_out_of_control: bool,
    ) -> None:
        self.rules = rules
        self.estimate = estimate
        self.exclude = exclude_out_of_control

    def kwargs(self) -> _OptionKwargs:
        return {
            "rules": self.rules,
            "estimate": self.estimate,
            "exclude_out_of_control": self.exclude,
        }


class _OptionKwargs(TypedDict):
    rules: str | Iterable[str]
    estimate: ProcessEstimate | None
    exclude_out_of_control: bool


def control_chart(
    chart_type: str,
    values: ArrayLike,
    *,
    sizes: ArrayLike | None = None,
    subgroup_labels: Sequence[object] | None = None,
    subgroup_size: int | None = None,
    rules: str | Iterable[str] = "nelson",
    exclude_out_of_control: bool = False,
    estimate: ProcessEstimate | None = None,
    lam: float = 0.2,
    width: float = 3.0,
    k: float = 0.5,
    h: float = 5.0,
    target: float | None = None,
    sigma: float | None = None,
) -> ChartResult:
    """Build the chart ``chart_type`` (one of :data:`CHART_TYPES`) over ``values``.

    ``values`` are measurements (variables charts, EWMA, CUSUM) or counts (p: nonconforming
    units, also accepted as fractions; np: nonconforming units; c and u: nonconformities).
    ``sizes`` are sample sizes for p / np / u. ``lam``/``width`` set the EWMA's λ and L;
    ``k``/``h`` the CUSUM's; ``target``/``sigma`` give known μ0 and σ to both.
    """
    chart = chart_type.strip().lower()
    if chart not in CHART_TYPES:
        raise ValidationError(
            f"unknown chart type {chart_type!r}; use one of {', '.join(CHART_TYPES)}"
        )
    if subgroup_size is not None and subgroup_size < 1:
        raise ValidationError(f"subgroup size must be at least 1, got {subgroup_size}")
    x = as_values(values)
    if x.shape[0] == 0:
        raise ValidationError("no values given")
    opts = _Options(rules, estimate, exclude_out_of_control)
    if chart in ("xbar-r", "xbar-s"):
        data = _subgroups(chart, x, subgroup_labels, subgroup_size, None)
        builder = xbar_r_chart if chart == "xbar-r" else xbar_s_chart
        return builder(data, **opts.kwargs())
    if chart == "imr":
        if subgroup_labels is not None or (subgroup_size is not None and subgroup_size != 1):
            raise ValidationError("imr charts individual values; subgroups are not used")
        return imr_chart(x, **opts.kwargs())
    if chart in ("ewma", "cusum"):
        data = _subgroups(chart, x, subgroup_labels, subgroup_size, 1)
        if chart == "ewma":
            return ewma_chart(
                data, lam=lam, width=width, target=target, sigma=sigma, **opts.kwargs()
            )
        return cusum_chart(data, k=k, h=h, target=target, sigma=sigma, **opts.kwargs())
    if chart == "c":
        return c_chart(x, **opts.kwargs())
    n = _attribute_sizes(chart, x.shape[0], sizes, subgroup_size)
    if chart == "u":
        return u_chart(x, n, **opts.kwargs())
    counts = _as_counts(x, n)
    if chart == "p":
        return p_chart(counts, n, **opts.kwargs())
    if not np.all(n == n[0]):
        raise ValidationError("an np chart needs one constant sample size; use a p chart")
    return np_chart(counts, int(n[0]), **opts.kwargs())
