"""The hidden degradation process of a twin machine and the sensor signals that drift with it.

Health starts at 1.0 and falls only while the machine processes parts, by independent gamma
increments (a gamma process: monotone, with a mean rate chosen so that the expected run time
to failure is the machine's MTBF in run hours). The machine fails when health crosses a
threshold drawn per life. Sensor signals (temperature, vibration RMS, and spindle current or
nozzle pressure by machine type) are a baseline that depends on whether the machine is
running, plus a drift that grows with the square of wear, plus Gaussian noise: they say
little early in a life and a lot near its end, which is what a maintenance model can learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIFE_CV = 0.4  # coefficient of variation of the run time to failure
THRESHOLD_RANGE = (0.15, 0.25)


@dataclass(frozen=True)
class SignalProfile:
    """One sensor signal: value = (run if busy else idle) + drift * wear**2 + N(0, noise)."""

    name: str
    unit: str
    idle: float
    run: float
    drift: float
    noise: float


TEMPERATURE = SignalProfile("temperature", "degC", 32.0, 58.0, 14.0, 1.2)
VIBRATION = SignalProfile("vibration_rms", "mm/s", 0.3, 2.0, 3.0, 0.2)
SPINDLE_CURRENT = SignalProfile("spindle_current", "A", 0.5, 8.0, 4.0, 0.35)
NOZZLE_PRESSURE = SignalProfile("nozzle_pressure", "bar", 0.2, 5.0, 2.5, 0.15)

_BY_TYPE: dict[str, tuple[SignalProfile, ...]] = {
    "fdm_printer": (TEMPERATURE, VIBRATION, NOZZLE_PRESSURE),
    "resin_printer": (TEMPERATURE, VIBRATION, NOZZLE_PRESSURE),
    "sls_printer": (TEMPERATURE, VIBRATION, NOZZLE_PRESSURE),
    "painting": (TEMPERATURE, VIBRATION, NOZZLE_PRESSURE),
    "cnc_mill": (TEMPERATURE, VIBRATION, SPINDLE_CURRENT),
    "cnc_lathe": (TEMPERATURE, VIBRATION, SPINDLE_CURRENT),
}

FAILURE_MODES: dict[str, tuple[str, ...]] = {
    "fdm_printer": ("nozzle_clog", "heater_fault", "belt_wear"),
    "resin_printer": ("vat_film_tear", "uv_source_fault"),
    "sls_printer": ("recoater_jam", "laser_fault"),
    "cnc_mill": ("spindle_bearing", "tool_breakage", "coolant_pump"),
    "cnc_lathe": ("spindle_bearing", "tool_breakage"),
    "laser_cutter": ("lens_contamination", "tube_fault"),
    "painting": ("nozzle_clog", "fan_fault"),
}


def signals_for(machine_type: str) -> tuple[SignalProfile, ...]:
    """The sensor signals a machine of this type reports (temperature and vibration always)."""
    return _BY_TYPE.get(machine_type, (TEMPERATURE, VIBRATION))


def failure_modes_for(machine_type: str) -> tuple[str, ...]:
    return FAILURE_MODES.get(machine_type, ("component_failure",))


class HealthProcess:
    """Health of one machine over its lives. `mtbf_run_hours` is the mean run time from new
    to failure; `rng` is the machine's own generator (reproducible from the seed)."""

    def __init__(self, mtbf_run_hours: float, rng: np.random.Generator) -> None:
        if mtbf_run_hours <= 0:
            raise ValueError("mtbf_run_hours must be positive")
        self.rng = rng
        self.mtbf_minutes = mtbf_run_hours * 60.0
        self.health = 1.0
        self.threshold = 0.0
        self.run_minutes = 0.0  # run time in the current life
        self.renew()

    def renew(self) -> None:
        """A new life: after a repair or a preventive maintenance."""
        self.health = 1.0
        self.run_minutes = 0.0
        self.threshold = float(self.rng.uniform(*THRESHOLD_RANGE))

    @property
    def wear(self) -> float:
        """0 when new, 1 at the failure threshold."""
        return min(1.0, max(0.0, (1.0 - self.health) / (1.0 - self.threshold)))

    @property
    def failed(self) -> bool:
        return self.health <= self.threshold

    def _mean_rate(self) -> float:
        return (1.0 - sum(THRESHOLD_RANGE) / 2.0) / self.mtbf_minutes

    def advance(self, minutes: float) -> float | None:
        """Run for `minutes`. Returns None, or the minutes into the step at which health
        crossed the threshold (then health is left exactly at the threshold)."""
        if minutes <= 0:
            return None
        mean = self._mean_rate()
        variance = (LIFE_CV**2) * mean * mean * self.mtbf_minutes
        shape = mean * mean * minutes / variance
        scale = variance / mean
        drop = float(self.rng.gamma(shape, scale))
        before = self.health
        self.health = before - drop
        if self.health > self.threshold:
            self.run_minutes += minutes
            return None
        fraction = (before - self.threshold) / drop if drop > 0 else 0.0
        self.health = self.threshold
        self.run_minutes += minutes * fraction
        return minutes * fraction

    def minutes_to_failure_expected(self) -> float:
        """The expected run minutes left before failure (the hidden truth, for scoring)."""
        return max(0.0, (self.health - self.threshold) / self._mean_rate())


def signal_values(
    profile: SignalProfile,
    busy: np.ndarray,
    wear: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Vectorised signal values for per-minute `busy` flags and `wear` levels."""
    base = np.where(busy, profile.run, profile.idle)
    noise = rng.normal(0.0, profile.noise, size=busy.shape)
    values: np.ndarray = base + profile.drift * wear * wear + noise
    return values
