"""What the twin exchanges with the outside: the jobs a dispatcher hands to a machine, the
dispatcher port, the event sink and the twin's settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from microfactory.orders.products import Characteristic
from microfactory.shopfloor.events import Event


@dataclass(frozen=True)
class TwinJob:
    """One operation released to one machine. `quantity` may be 0 when every part before it
    was scrapped (then only the fixed time runs). `produces` marks the forming operation
    (print, mill, cut): its wear drives scrap and the dimensions measured later.
    `characteristics` are measured on every `sample_every`-th part of this operation."""

    operation: str
    work_order: str
    lot: str
    quantity: int
    fixed_minutes: float
    per_unit_minutes: float
    setup_family: str | None = None
    produces: bool = False
    characteristics: tuple[Characteristic, ...] = ()

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError("job quantity must not be negative")
        if self.fixed_minutes < 0 or self.per_unit_minutes < 0:
            raise ValueError("job minutes must not be negative")
        if self.fixed_minutes + self.per_unit_minutes <= 0:
            raise ValueError("a job needs a positive fixed or per-unit time")


class Dispatcher(Protocol):
    """The MES side: which job a free machine runs next (None: nothing for it now)."""

    def next_job(self, machine: str, now: datetime) -> TwinJob | None: ...


EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class TwinConfig:
    """Settings of one twin run. Stochastic parts:
    * processing: each segment takes nominal / speed x lognormal(performance_mean, sd),
      slower with wear (`wear_slowdown` at the failure threshold);
    * micro-stops: Poisson in run time, `micro_stops_per_hour`, 1–`micro_stop_max` minutes;
    * setups: the machine's changeover time x uniform(0.9, 1.3);
    * scrap at the forming operation: `scrap_base` + `scrap_wear` x wear^2 (the part is
      made again);
    * breakdowns: the hidden health process (see `degradation`), repair lognormal around the
      machine's MTTR."""

    start: datetime
    seed: int = 7
    tag: str = "tw"
    batch_minutes: int = 60
    performance_mean: float = 1.06
    performance_sd: float = 0.07
    wear_slowdown: float = 0.12
    micro_stops_per_hour: float = 0.35
    micro_stop_max: float = 4.0
    scrap_base: float = 0.01
    scrap_wear: float = 0.10
    repair_sd: float = 0.45
    step_minutes: float = 15.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("twin start must be timezone-aware")
        if self.batch_minutes < 1:
            raise ValueError("batch_minutes must be at least 1")
        if not 0 <= self.scrap_base < 1 or not 0 <= self.scrap_wear < 1:
            raise ValueError("scrap probabilities must be in [0, 1)")
        if self.performance_mean <= 0 or self.step_minutes <= 0:
            raise ValueError("performance_mean and step_minutes must be positive")
