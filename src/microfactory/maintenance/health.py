"""Online health index and remaining useful life of one machine from its own signals.

A machine reports a few sensor signals (temperature, vibration RMS, spindle current or
nozzle pressure...). Wear shifts them away from their healthy level; the level also
depends on whether the machine is running, which is an operating regime like a C-MAPSS
flight condition. `HealthModel` learns, from the machine type's own histories:

* the healthy baseline of every signal in every regime (running / not running), from the
  early part of each life (after a repair or a maintenance the machine is as new);
* the shift of every signal at failure, from the lives that ended in a breakdown (without
  any, an unsupervised default: `failure_shift_sigmas` baseline standard deviations);
* how far plain trend extrapolation is off, from replaying those failed lives: the spread of
  log(true RUL / extrapolated RUL) gives the correction and the prediction interval.

The degradation index D of a sample is the weighted mean over signals of
shift / shift-at-failure (weights: signal-to-noise), so D is about 0 when new and 1 at a
typical failure; the health index is 1 - D, clipped to [0, 1]. The RUL is where the linear
trend of D over the last `window_hours` of run time reaches 1, corrected as learned above.
Run hours count only time spent running (wear happens while processing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from microfactory.core import ValidationError
from microfactory.maintenance.estimators import check_fitted

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class SignalHistory:
    """Samples of one machine in one life, in time order.

    `run_hours[i]`: run time since the life began when sample i was taken (non-decreasing);
    `values[i]`: one value per signal; `running[i]`: whether the machine was processing.
    """

    signal_names: tuple[str, ...]
    run_hours: FloatArray
    values: FloatArray
    running: BoolArray

    def __post_init__(self) -> None:
        n = len(self.run_hours)
        if self.values.ndim != 2 or self.values.shape != (n, len(self.signal_names)):
            raise ValidationError("values must have one row per sample and one column per signal")
        if len(self.running) != n:
            raise ValidationError("running must have one flag per sample")
        if not (np.all(np.isfinite(self.values)) and np.all(np.isfinite(self.run_hours))):
            raise ValidationError("samples must be finite")
        if n > 1 and np.any(np.diff(self.run_hours) < 0):
            raise ValidationError("run_hours must not decrease")

    @property
    def n_samples(self) -> int:
        return len(self.run_hours)

    def since(self, run_hours: float) -> SignalHistory:
        keep = self.run_hours >= run_hours
        return SignalHistory(
            self.signal_names, self.run_hours[keep], self.values[keep], self.running[keep]
        )

    def until(self, run_hours: float) -> SignalHistory:
        keep = self.run_hours <= run_hours
        return SignalHistory(
            self.signal_names, self.run_hours[keep], self.values[keep], self.running[keep]
        )


@dataclass(frozen=True)
class Life:
    """One life of a machine: from new (or renewed) to a breakdown (`failed`) or to a
    maintenance that renewed it before it failed."""

    history: SignalHistory
    failed: bool


@dataclass(frozen=True)
class SignalTrend:
    """How one signal stands: its shift from the healthy baseline (in its unit and in
    baseline standard deviations), its trend per run hour, its share of the degradation."""

    signal: str
    shift: float
    shift_sigmas: float
    slope_per_hour: float
    share: float


@dataclass(frozen=True)
class HealthAssessment:
    """Health index (1 new, 0 at the learned failure level), degradation index, RUL in run
    hours with its interval (None when the machine has no trend yet), and the explanation."""

    health_index: float
    degradation: float
    rul_hours: float | None
    rul_lower_hours: float | None
    rul_upper_hours: float | None
    trends: tuple[SignalTrend, ...]
    explanation: str

    def due_within(self, lead_hours: float, *, use_lower: bool = False) -> bool:
        """Whether the predicted RUL (or its lower bound) is below `lead_hours`."""
        rul = self.rul_lower_hours if use_lower else self.rul_hours
        return rul is not None and rul < lead_hours


class HealthModel:
    """Health index and RUL for machines of one type (see the module docstring).

    Hyper-parameters in `__init__`; `fit(lives)` returns `self`; learned state ends in `_`.
    """

    def __init__(
        self,
        baseline_share: float = 0.2,
        end_hours: float = 2.0,
        window_hours: float = 12.0,
        bin_hours: float = 0.5,
        smooth_hours: float = 2.0,
        neighbour_share: float = 0.2,
        coverage: float = 0.8,
        failure_shift_sigmas: float = 8.0,
        max_rul_hours: float = 2000.0,
    ) -> None:
        self.baseline_share = baseline_share
        self.end_hours = end_hours
        self.window_hours = window_hours
        self.bin_hours = bin_hours
        self.smooth_hours = smooth_hours
        self.neighbour_share = neighbour_share
        self.coverage = coverage
        self.failure_shift_sigmas = failure_shift_sigmas
        self.max_rul_hours = max_rul_hours

    # -- fitting ---------------------------------------------------------------------------

    def _check_params(self) -> None:
        if not 0 < self.baseline_share < 1:
            raise ValidationError("baseline_share must be in (0, 1)")
        if not 0 < self.coverage < 1:
            raise ValidationError("coverage must be in (0, 1)")
        if not 0 < self.neighbour_share <= 1:
            raise ValidationError("neighbour_share must be in (0, 1]")
        names = ("end_hours", "window_hours", "bin_hours", "smooth_hours", "failure_shift_sigmas")
        for name in names:
            if getattr(self, name) <= 0:
                raise ValidationError(f"{name} must be positive")

    def fit(self, lives: Sequence[Life]) -> HealthModel:
        self._check_params()
        if not lives:
            raise ValidationError("at least one life (history) is needed to learn a baseline")
        names = lives[0].history.signal_names
        if any(life.history.signal_names != names for life in lives):
            raise ValidationError("all lives must report the same signals")
        self.signal_names_ = names
        self._fit_baseline(lives)
        self._fit_failure_level(lives)
        self._fit_calibration(lives)
        return self

    def _fit_baseline(self, lives: Sequence[Life]) -> None:
        rows: list[tuple[FloatArray, BoolArray]] = []
        for life in lives:
            h = life.history
            if h.n_samples == 0:
                continue
            cut = max(h.run_hours[-1] * self.baseline_share, self.bin_hours)
            early = h.until(cut)
            rows.append((early.values, early.running))
        if not rows:
            raise ValidationError("the lives hold no samples")
        values = np.vstack([r[0] for r in rows])
        running = np.concatenate([r[1] for r in rows])
        if len(values) < 2:
            raise ValidationError("at least 2 healthy samples are needed for a baseline")
        pooled_mean = values.mean(axis=0)
        pooled_std = values.std(axis=0)
        means = np.tile(pooled_mean, (2, 1))
        stds = np.tile(pooled_std, (2, 1))
        for regime in (0, 1):
            sel = running == bool(regime)
            if sel.sum() >= 2:
                means[regime] = values[sel].mean(axis=0)
                stds[regime] = values[sel].std(axis=0)
        floor = 1e-6 * (np.abs(pooled_mean) + 1.0)
        self.baseline_mean_ = means
        self.baseline_std_ = np.maximum(stds, floor)

    def _shifts(self, h: SignalHistory) -> FloatArray:
        regime = h.running.astype(np.int64)
        shifts: FloatArray = h.values - self.baseline_mean_[regime]
        return shifts

    def _fit_failure_level(self, lives: Sequence[Life]) -> None:
        sigma = self.baseline_std_.mean(axis=0)
        ends = []
        for life in lives:
            h = life.history
            if not life.failed or h.n_samples == 0:
                continue
            end = h.since(h.run_hours[-1] - self.end_hours)
            ends.append(self._shifts(end).mean(axis=0))
        default = self.failure_shift_sigmas * sigma
        if ends:
            level = np.median(np.vstack(ends), axis=0)
            # A signal that does not move by failure gets the default (and, being weak
            # against its noise, a small weight).
            level = np.where(np.abs(level) > 0.5 * sigma, level, default)
        else:
            level = default
        self.failure_shift_ = level
        self.n_failed_lives_ = len(ends)
        snr = (np.abs(level) / sigma) ** 2
        self.weights_ = snr / snr.sum()

    def _fit_calibration(self, lives: Sequence[Life]) -> None:
        """Pairs (smoothed D, remaining run hours) from every bin of every failed life: the
        RUL of a D is the (decreasing, isotonic) mean remaining life at that D, its interval
        the quantiles of the remaining lives of the nearest D values."""
        from sklearn.isotonic import IsotonicRegression

        level: list[FloatArray] = []
        remaining: list[FloatArray] = []
        for life in lives:
            h = life.history
            if not life.failed or h.n_samples == 0:
                continue
            ends, smoothed = self._smoothed_by_bin(h)
            level.append(smoothed)
            remaining.append(float(h.run_hours[-1]) - ends)
        if level and sum(len(x) for x in level) >= 10:
            d = np.concatenate(level)
            r = np.maximum(np.concatenate(remaining), 0.0)
            order = np.argsort(d, kind="stable")
            self.calibration_d_ = d[order]
            self.calibration_rul_ = r[order]
            self.isotonic_ = IsotonicRegression(increasing=False, out_of_bounds="clip").fit(d, r)
        else:
            self.calibration_d_ = np.empty(0)
            self.calibration_rul_ = np.empty(0)
        self.n_calibration_points_ = len(self.calibration_d_)

    def _smoothed_by_bin(self, history: SignalHistory) -> tuple[FloatArray, FloatArray]:
        """At the end of every run-time bin: the mean D over the last `smooth_hours`."""
        d = self.degradation_index(history)
        bins = np.floor(history.run_hours / self.bin_hours).astype(np.int64)
        ends = (np.unique(bins) + 1) * self.bin_hours
        csum = np.concatenate([[0.0], np.cumsum(d)])
        hi = np.searchsorted(history.run_hours, ends, side="left")
        lo = np.searchsorted(history.run_hours, ends - self.smooth_hours, side="left")
        lo = np.minimum(lo, np.maximum(hi - 1, 0))
        counts = np.maximum(hi - lo, 1)
        means = (csum[hi] - csum[lo]) / counts
        return np.asarray(ends, dtype=np.float64), np.asarray(means, dtype=np.float64)

    # -- scoring ---------------------------------------------------------------------------

    def degradation_index(self, history: SignalHistory) -> FloatArray:
        """D for every sample (about 0 when new, 1 at a typical failure)."""
        check_fitted(self, "weights_")
        self._check_signals(history)
        levels = self._shifts(history) / self.failure_shift_
        d: FloatArray = levels @ self.weights_
        return d

    def _check_signals(self, history: SignalHistory) -> None:
        if history.signal_names != self.signal_names_:
            raise ValidationError(
                f"signals {list(history.signal_names)} differ from the model's "
                f"{list(self.signal_names_)}"
            )

    def _binned(self, history: SignalHistory) -> tuple[FloatArray, FloatArray]:
        """Mean D per run-time bin over the last `window_hours` (bin centres, means)."""
        if history.n_samples == 0:
            return np.empty(0), np.empty(0)
        recent = history.since(float(history.run_hours[-1]) - self.window_hours)
        d = self.degradation_index(recent)
        bins = np.floor(recent.run_hours / self.bin_hours).astype(np.int64)
        keys, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=d)
        centres = np.asarray((keys + 0.5) * self.bin_hours, dtype=np.float64)
        return centres, np.asarray(sums / counts, dtype=np.float64)

    def _extrapolate(self, history: SignalHistory) -> float | None:
        """Run hours until the linear trend of D reaches 1 (raw, before correction)."""
        t, d = self._binned(history)
        if len(t) < 3:
            return None
        slope, intercept = np.polyfit(t, d, 1)
        now = float(history.run_hours[-1])
        level = intercept + slope * now
        if level >= 1.0:
            return 0.0
        if slope <= 0:
            return self.max_rul_hours
        return float(min((1.0 - level) / slope, self.max_rul_hours))

    def assess(self, history: SignalHistory) -> HealthAssessment:
        """Health index, RUL (run hours) with its interval, and which signals drive it."""
        check_fitted(self, "weights_")
        self._check_signals(history)
        if history.n_samples == 0:
            raise ValidationError("no samples to assess")
        recent = history.since(float(history.run_hours[-1]) - self.smooth_hours)
        current = float(np.mean(self.degradation_index(recent)))
        rul: float | None
        lower: float | None
        upper: float | None
        if self.n_calibration_points_:
            rul, lower, upper = self._learned_rul(current)
        else:
            rul, lower, upper = self._trend_rul(history)
        trends = self._trends(history)
        return HealthAssessment(
            health_index=float(np.clip(1.0 - current, 0.0, 1.0)),
            degradation=current,
            rul_hours=rul,
            rul_lower_hours=lower,
            rul_upper_hours=upper,
            trends=trends,
            explanation=_explain(trends, rul, lower, upper),
        )

    def _learned_rul(self, current: float) -> tuple[float, float, float]:
        d, r = self.calibration_d_, self.calibration_rul_
        point = float(self.isotonic_.predict([current])[0])
        k = min(max(20, int(self.neighbour_share * len(d))), len(d))
        at = int(np.searchsorted(d, current))
        lo = max(0, min(at - k // 2, len(d) - k))
        tail = (1.0 - self.coverage) / 2.0
        q_lo, q_hi = np.quantile(r[lo : lo + k], [tail, 1.0 - tail])
        return point, float(min(q_lo, point)), float(max(q_hi, point))

    def _trend_rul(self, history: SignalHistory) -> tuple[float | None, float | None, float | None]:
        """Without failed lives: where the linear trend of D meets 1, with a factor-2 band."""
        raw = self._extrapolate(history)
        if raw is None:
            return None, None, None
        return raw, raw / 2.0, min(raw * 2.0, self.max_rul_hours)

    def _trends(self, history: SignalHistory) -> tuple[SignalTrend, ...]:
        recent = history.since(float(history.run_hours[-1]) - self.window_hours)
        shifts = self._shifts(recent)
        levels = shifts / self.failure_shift_
        contrib = levels.mean(axis=0) * self.weights_
        total = float(np.sum(np.abs(contrib))) or 1.0
        sigma = self.baseline_std_.mean(axis=0)
        out = []
        for j, name in enumerate(self.signal_names_):
            slope = 0.0
            if len(np.unique(recent.run_hours)) >= 2:
                slope = float(np.polyfit(recent.run_hours, shifts[:, j], 1)[0])
            mean_shift = float(shifts[:, j].mean())
            out.append(
                SignalTrend(
                    signal=name,
                    shift=mean_shift,
                    shift_sigmas=mean_shift / float(sigma[j]),
                    slope_per_hour=slope,
                    share=float(abs(contrib[j]) / total),
                )
            )
        return tuple(sorted(out, key=lambda s: -s.share))


def _explain(
    trends: tuple[SignalTrend, ...],
    rul: float | None,
    lower: float | None,
    upper: float | None,
) -> str:
    parts = []
    for s in trends[:2]:
        direction = "rising" if s.slope_per_hour > 0 else "falling"
        parts.append(
            f"{s.signal} {s.shift:+.3g} from healthy ({s.shift_sigmas:+.1f} sd), "
            f"{direction} {abs(s.slope_per_hour):.3g}/run-h, {s.share:.0%} of the degradation"
        )
    head = "; ".join(parts)
    if rul is None or lower is None or upper is None:
        return f"{head}; not enough run time for a trend yet"
    return f"{head}; RUL {rul:.1f} run-h (80% interval {lower:.1f}-{upper:.1f})"
