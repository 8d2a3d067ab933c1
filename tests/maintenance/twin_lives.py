"""Run-to-failure lives generated with the digital twin's own degradation process and sensor
model (`microfactory.twin.degradation`), for the health-model tests."""

from __future__ import annotations

import numpy as np

from microfactory.maintenance.health import Life, SignalHistory
from microfactory.twin.degradation import HealthProcess, signal_values, signals_for


def twin_life(
    rng: np.random.Generator,
    machine_type: str = "cnc_mill",
    mtbf_hours: float = 120.0,
    busy_share: float = 0.7,
    block_minutes: int = 30,
) -> tuple[SignalHistory, np.ndarray]:
    """One life to failure, sampled every minute; also returns the hidden wear per sample."""
    process = HealthProcess(mtbf_hours, rng)
    busy: list[bool] = []
    wear: list[float] = []
    hours: list[float] = []
    run = 0.0
    while not process.failed:
        running = bool(rng.random() < busy_share)
        for _ in range(block_minutes):
            if running:
                process.advance(1.0)
                run += 1.0 / 60.0
            busy.append(running)
            wear.append(process.wear)
            hours.append(run)
            if process.failed:
                break
    profiles = signals_for(machine_type)
    b = np.asarray(busy)
    w = np.asarray(wear)
    values = np.column_stack([signal_values(p, b, w, rng) for p in profiles])
    history = SignalHistory(tuple(p.name for p in profiles), np.asarray(hours), values, b)
    return history, w


def twin_lives(n: int, seed: int, **kwargs: float) -> list[Life]:
    rng = np.random.default_rng(seed)
    return [Life(twin_life(rng, **kwargs)[0], failed=True) for _ in range(n)]  # type: ignore[arg-type]
