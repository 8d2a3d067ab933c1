"""Process capability (Cp, Cpk, Pp, Ppk, Cpm) with confidence intervals, and normality.

Montgomery, *Introduction to Statistical Quality Control*, ch. 8:

* Within-subgroup σ (for Cp, Cpk): R̄/d2(n) for subgroups of n >= 2, MR̄/d2(2) for
  individuals. Overall σ (for Pp, Ppk): the sample standard deviation of all values.
* Cp = (USL - LSL)/6σ_w; Cpu = (USL - μ)/3σ_w; Cpl = (μ - LSL)/3σ_w; Cpk = min(Cpu, Cpl).
  With one specification limit only Cpk (= Cpu or Cpl) and Ppk are defined.
* Cpm = (USL - LSL) / (6 √(s² + (x̄ - T)²)), T the target (default: mid-specification).
* Intervals at ``confidence`` (default 95 %): Cp and Pp by the chi-square interval
  Ĉ √(χ²_(α/2, N-1)/(N-1)) .. Ĉ √(χ²_(1-α/2, N-1)/(N-1)) (eq. 8.19); Cpk and Ppk by Bissell's
  normal approximation Ĉ (1 ∓ z_(α/2) √(1/(9 N Ĉ²) + 1/(2(N-1)))) (eq. 8.20); Cpm by Boyles'
  chi-square interval with ν = N(1 + a²)²/(1 + 2a²), a = (x̄ - T)/s. N counts all values.
* Normality: Anderson–Darling A² against a normal with the sample mean and sd, the
  small-sample modified A²* = A²(1 + 0.75/N + 2.25/N²) and its p-value from D'Agostino &
  Stephens (1986, table 4.9). p < 0.05 adds a warning: the indices assume normal data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from microfactory.core.errors import ValidationError
from microfactory.quality.constants import MAX_SIZE, d2
from microfactory.quality.subgroups import Subgroups, as_values

NORMALITY_ALPHA = 0.05
MIN_NORMALITY_N = 8


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class NormalityTest:
    """Anderson–Darling test for normality; ``normal`` is False when p < 0.05."""

    statistic: float
    adjusted_statistic: float
    p_value: float
    normal: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "test": "anderson-darling",
            "statistic": self.statistic,
            "adjusted_statistic": self.adjusted_statistic,
            "p_value": self.p_value,
            "normal": self.normal,
        }


@dataclass(frozen=True)
class CapabilityResult:
    """Indices are None where a specification limit they need is missing."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    target: float | None
    confidence: float
    cp: float | None
    cpl: float | None
    cpu: float | None
    cpk: float | None
    pp: float | None
    ppl: float | None
    ppu: float | None
    ppk: float | None
    cpm: float | None
    intervals: dict[str, Interval]
    normality: NormalityTest | None
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "mean": self.mean,
            "sigma_within": self.sigma_within,
            "sigma_overall": self.sigma_overall,
            "lsl": self.lsl,
            "usl": self.usl,
            "target": self.target,
            "confidence": self.confidence,
            "cp": self.cp,
            "cpl": self.cpl,
            "cpu": self.cpu,
            "cpk": self.cpk,
            "pp": self.pp,
            "ppl": self.ppl,
            "ppu": self.ppu,
            "ppk": self.ppk,
            "cpm": self.cpm,
            "intervals": {k: v.to_dict() for k, v in self.intervals.items()},
            "normality": self.normality.to_dict() if self.normality else None,
            "warnings": list(self.warnings),
        }


def anderson_darling(values: ArrayLike) -> NormalityTest:
    """Anderson–Darling normality test with estimated mean and variance (case 3)."""
    x = np.sort(as_values(values))
    n = x.shape[0]
    if n < 3:
        raise ValidationError("the Anderson–Darling test needs at least 3 values")
    sd = float(x.std(ddof=1))
    if sd == 0:
        raise ValidationError("all values are equal; normality cannot be tested")
    z = (x - x.mean()) / sd
    log_cdf = special.log_ndtr(z)
    log_sf = special.log_ndtr(-z)
    i = np.arange(1, n + 1)
    a2 = float(-n - np.sum((2 * i - 1) * (log_cdf + log_sf[::-1])) / n)
    a2_star = a2 * (1.0 + 0.75 / n + 2.25 / (n * n))
    if a2_star >= 0.6:
        p = math.exp(1.2937 - 5.709 * a2_star + 0.0186 * a2_star**2)
    elif a2_star >= 0.34:
        p = math.exp(0.9177 - 4.279 * a2_star - 1.38 * a2_star**2)
    elif a2_star >= 0.2:
        p = 1.0 - math.exp(-8.318 + 42.796 * a2_star - 59.938 * a2_star**2)
    else:
        p = 1.0 - math.exp(-13.436 + 101.14 * a2_star - 223.73 * a2_star**2)
    p = min(max(p, 0.0), 1.0)
    return NormalityTest(a2, a2_star, p, p >= NORMALITY_ALPHA)


def within_sigma(data: Subgroups) -> float:
    """R̄/d2(n) for equal subgroups of n >= 2, MR̄/d2(2) for individuals."""
    if not data.equal_sizes:
        raise ValidationError("within-subgroup sigma needs equal subgroup sizes")
    n = int(data.sizes[0])
    if n == 1:
        if data.count < 2:
            raise ValidationError("at least 2 values are needed for a moving range")
        return float(np.abs(np.diff(data.values)).mean()) / d2(2)
    if n > MAX_SIZE:
        raise ValidationError(f"subgroup size must be at most {MAX_SIZE}, got {n}")
    return float(data.ranges().mean()) / d2(n)


def chi2_interval(value: float, dof: float, confidence: float = 0.95) -> Interval:
    """Interval for Cp-type indices: value · √(χ²_(α/2, ν)/ν) .. value · √(χ²_(1-α/2, ν)/ν)."""
    alpha = 1 - confidence
    low = value * math.sqrt(float(stats.chi2.ppf(alpha / 2, dof)) / dof)
    high = value * math.sqrt(float(stats.chi2.ppf(1 - alpha / 2, dof)) / dof)
    return Interval(low, high)


def bissell_interval(value: float, n: int, confidence: float = 0.95) -> Interval:
    """Bissell's approximate interval for Cpk-type indices from n values."""
    alpha = 1 - confidence
    z = float(stats.norm.ppf(1 - alpha / 2))
    half = z * math.sqrt(1.0 / (9.0 * n * value * value) + 1.0 / (2.0 * (n - 1)))
    return Interval(value * (1 - half), value * (1 + half))


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float | None, float | None, float | None, float | None]:
    """(two-sided index, lower, upper, k-index) for one sigma."""
    if sigma <= 0:
        raise ValidationError("sigma is zero: all values (or all ranges) are equal")
    lower = (mean - lsl) / (3 * sigma) if lsl is not None else None
    upper = (usl - mean) / (3 * sigma) if usl is not None else None
    both = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    sides = [v for v in (lower, upper) if v is not None]
    return both, lower, upper, min(sides)


def process_capability(
    values: ArrayLike | Subgroups,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    subgroup_size: int = 1,
    confidence: float = 0.95,
) -> CapabilityResult:
    """Capability of ``values`` (individuals, consecutive subgroups of ``subgroup_size``, or a
    :class:`Subgroups`) against the specification ``lsl``/``usl`` (at least one)."""
    if lsl is None and usl is None:
        raise ValidationError("give at least one specification limit (lsl or usl)")
    for name, limit in (("lsl", lsl), ("usl", usl), ("target", target)):
        if limit is not None and not math.isfinite(limit):
            raise ValidationError(f"{name} must be a finite number")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValidationError(f"lsl ({lsl:g}) must be below usl ({usl:g})")
    if not 0 < confidence < 1:
        raise ValidationError(f"confidence must be between 0 and 1, got {confidence}")
    data = values if isinstance(values, Subgroups) else Subgroups.of_size(values, subgroup_size)
    x = data.values
    n = x.shape[0]
    if n < 2:
        raise ValidationError("capability needs at least 2 values")
    if target is None and lsl is not None and usl is not None:
        target = (lsl + usl) / 2.0
    mean = float(x.mean())
    s_overall = float(x.std(ddof=1))
    s_within = within_sigma(data)
    cp, cpl, cpu, cpk = _indices(mean, s_within, lsl, usl)
    pp, ppl, ppu, ppk = _indices(mean, s_overall, lsl, usl)
    intervals: dict[str, Interval] = {}
    for name, value in (("cp", cp), ("pp", pp)):
        if value is not None:
            intervals[name] = chi2_interval(value, n - 1, confidence)
    for name, value in (("cpk", cpk), ("ppk", ppk)):
        if value is not None and value != 0:
            intervals[name] = bissell_interval(value, n, confidence)
    cpm = None
    if lsl is not None and usl is not None and target is not None:
        tau = math.sqrt(s_overall**2 + (mean - target) ** 2)
        cpm = (usl - lsl) / (6 * tau)
        a = (mean - target) / s_overall
        nu = n * (1 + a * a) ** 2 / (1 + 2 * a * a)
        intervals["cpm"] = chi2_interval(cpm, nu, confidence)
    warnings: list[str] = []
    normality = None
    if n >= MIN_NORMALITY_N and s_overall > 0:
        normality = anderson_darling(x)
        if not normality.normal:
            warnings.append(
                f"data fail the Anderson–Darling normality test (p = {normality.p_value:.4f}); "
                "the indices and their intervals assume a normal distribution"
            )
    else:
        warnings.append(f"fewer than {MIN_NORMALITY_N} values: normality not tested")
    if n < 30:
        warnings.append(f"only {n} values: the intervals are wide")
    return CapabilityResult(
        n=n,
        mean=mean,
        sigma_within=s_within,
        sigma_overall=s_overall,
        lsl=lsl,
        usl=usl,
        target=target,
        confidence=confidence,
        cp=cp,
        cpl=cpl,
        cpu=cpu,
        cpk=cpk,
        pp=pp,
        ppl=ppl,
        ppu=ppu,
        ppk=ppk,
        cpm=cpm,
        intervals=intervals,
        normality=normality,
        warnings=tuple(warnings),
    )
