"""Printers as the print farm sees them: where a printer's host is reached (`HostSpec`), what
the host reports (`PrinterStatus`), what is loaded on it (`Spool`), how its plate is cleared,
and the print jobs sent to it (`PrintJob`).

A printer host (OctoPrint, ...) is reached through the `PrinterHost` port; these are the domain
values that cross it. The API key itself is never part of them: `HostSpec.api_key_env` names the
environment variable that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

HOST_TYPES = ("octoprint",)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SHIPPED_PROFILES = Path(__file__).resolve().parents[1] / "data" / "profiles"
"""Printer profiles (PrusaSlicer .ini) shipped with microfactory, named by their file stem."""


class HostState(StrEnum):
    """What a printer host says its printer is doing."""

    IDLE = "idle"
    """Connected, operational, no job running: ready for the next one."""
    PRINTING = "printing"
    PAUSED = "paused"
    BUSY = "busy"
    """Pausing, resuming, cancelling or finishing: wait."""
    ERROR = "error"
    """The printer reported an error or the connection to it closed on one."""
    OFFLINE = "offline"
    """The host answers but no printer is connected to it."""
    UNREACHABLE = "unreachable"
    """The host did not answer (set by the print farm, never by a host adapter)."""


class PlateClearing(StrEnum):
    """Who confirms that the build plate is clear after a print."""

    OPERATOR = "operator"
    """An operator removes the part and confirms (`microfactory printers plate-clear`)."""
    GCODE = "gcode"
    """The printer clears its own bed (the profile's end G-code pushes the part off): a print
    that finished leaves the plate clear; a failed or cancelled one still needs an operator."""


@dataclass(frozen=True)
class HostSpec:
    """How to reach a printer's host. `url` is the host's base URL; the API key is read from
    the environment variable `api_key_env` when the runtime starts (never stored)."""

    type: str
    url: str
    api_key_env: str
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.type not in HOST_TYPES:
            raise ValueError(f"host type {self.type!r} is unknown; use one of {HOST_TYPES}")
        if not re.match(r"^https?://[^/\s:]+(:\d{1,5})?(/\S*)?$", self.url):
            raise ValueError(f"host url {self.url!r} must be http(s)://HOST[:PORT][/PATH]")
        if not ENV_NAME.match(self.api_key_env):
            raise ValueError(
                f"api_key_env {self.api_key_env!r} must name an environment variable "
                "(letters, digits, '_'), not hold the key itself"
            )
        if not 0 < self.timeout_s <= 120:
            raise ValueError("host timeout_s must be in (0, 120] seconds")


def check_profile(profile: str) -> None:
    """A profile is a shipped profile's name or an absolute path to a PrusaSlicer .ini file."""
    if profile.endswith(".ini") and Path(profile).is_absolute():
        return
    if not PROFILE_NAME.match(profile):
        raise ValueError(
            f"profile {profile!r} must be the name of a shipped profile or an absolute path to "
            "a PrusaSlicer .ini file"
        )


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in SHIPPED_PROFILES.glob("*.ini"))


def profile_path(profile: str) -> Path:
    """The .ini file of a profile; ValueError naming the shipped ones when there is none."""
    check_profile(profile)
    path = Path(profile) if profile.endswith(".ini") else SHIPPED_PROFILES / f"{profile}.ini"
    if not path.is_file():
        raise ValueError(
            f"profile {profile!r} not found (shipped profiles: {', '.join(shipped_profiles())})"
        )
    return path


@dataclass(frozen=True)
class Temperature:
    heater: str
    actual: float
    target: float | None = None


@dataclass(frozen=True)
class PrinterStatus:
    """One look at a printer through its host. `job` is the file of the current (or last)
    job, `progress` its completion in percent, `time_left_s` the host's estimate.
    `job_done` is True when the host is idle and its last job ran to 100 %."""

    state: HostState
    job: str | None = None
    progress: float | None = None
    time_left_s: int | None = None
    print_time_s: int | None = None
    temperatures: tuple[Temperature, ...] = ()
    message: str = ""

    def __post_init__(self) -> None:
        if self.progress is not None and not 0 <= self.progress <= 100:
            raise ValueError("progress is a percentage in [0, 100]")
        if self.time_left_s is not None and self.time_left_s < 0:
            raise ValueError("time_left_s must not be negative")

    @property
    def job_done(self) -> bool:
        return self.state is HostState.IDLE and self.progress is not None and self.progress >= 100


@dataclass(frozen=True)
class Spool:
    """The filament loaded on a printer: its material (a factory material id), its lot and
    the grams left on it."""

    material: str
    lot: str | None = None
    remaining_g: float = 1000.0

    def __post_init__(self) -> None:
        if not self.material.strip():
            raise ValueError("a spool needs a material")
        if self.remaining_g < 0:
            raise ValueError("remaining grams must not be negative")


@dataclass(frozen=True)
class PrinterRecord:
    """What the print farm keeps about one printer: what is loaded, its plate, its settings
    (with who changed them and when) and the last status its host reported."""

    machine: str
    spool: Spool | None = None
    nozzle_mm: float | None = None
    build_volume_mm: tuple[float, float, float] | None = None
    plate_clear: bool = False
    plate_clearing: PlateClearing = PlateClearing.OPERATOR
    retry_limit: int = 2
    changed_by: str = ""
    changed_at: datetime | None = None
    status: PrinterStatus = field(default_factory=lambda: PrinterStatus(HostState.UNREACHABLE))
    status_at: datetime | None = None
    message: str = ""
    """Why the printer is not printing what the plan gave it, or what failed, in words."""
    published_state: str = ""
    """The last OPC 40001 state published for the printer ("state/mode/reason")."""
    replan_wanted: bool = False
    """An operator change (spool, nozzle) may let the planner route work here again."""

    def __post_init__(self) -> None:
        if self.nozzle_mm is not None and not 0.05 <= self.nozzle_mm <= 3.0:
            raise ValueError("nozzle_mm must be between 0.05 and 3.0")
        if not 0 <= self.retry_limit <= 20:
            raise ValueError("retry_limit must be between 0 and 20")


class JobState(StrEnum):
    """A print job's life: uploading → starting → printing → finished | aborted | failed.
    `aborted`: cancelled or failed on the printer (retried up to the printer's limit);
    `failed`: never started (upload or start refused), the operation stays planned."""

    UPLOADING = "uploading"
    STARTING = "starting"
    PRINTING = "printing"
    FINISHED = "finished"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def open(self) -> bool:
        return self in (JobState.UPLOADING, JobState.STARTING, JobState.PRINTING)


@dataclass(frozen=True)
class PrintJob:
    """One attempt to print one operation on one printer. `file` is the name on the host
    (it carries the job id, so a restarted runtime recognises its own job)."""

    id: str
    machine: str
    operation: str
    work_order: str
    attempt: int
    state: JobState
    file: str
    slice_key: str
    parts: int
    filament_g: float
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.attempt < 1 or self.parts < 1:
            raise ValueError("attempt and parts must be at least 1")
        if self.filament_g < 0:
            raise ValueError("filament_g must not be negative")


@dataclass(frozen=True)
class SliceResult:
    """What the slicer made of a model with a profile: the G-code file and the slicer's own
    estimates (print time, filament in grams and millimetres), plus how long slicing took."""

    gcode: Path
    print_time_s: float
    filament_g: float
    filament_mm: float | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.print_time_s < 0 or self.filament_g < 0:
            raise ValueError("print time and filament must not be negative")


@dataclass(frozen=True)
class SliceRecord:
    """A slice kept for reuse, keyed by model hash + profile + copies (`key`): the slicer's
    estimates, or the error when it refused or crashed, and the quote it is compared with.
    The G-code itself lives in the slice cache (a bounded directory) and is made again when it
    has been evicted."""

    key: str
    model_sha: str
    profile: str
    copies: int
    ok: bool
    sliced_at: datetime
    print_time_s: float | None = None
    filament_g: float | None = None
    filament_mm: float | None = None
    seconds: float | None = None
    error: str = ""
    attempts: int = 1
    quote_id: str | None = None
    quote_time_s: float | None = None
    quote_filament_g: float | None = None

    @property
    def time_variance(self) -> float | None:
        """Quote time over slicer time, minus 1 (+0.1: the quote expected 10 % longer)."""
        if not self.ok or not self.print_time_s or self.quote_time_s is None:
            return None
        return self.quote_time_s / self.print_time_s - 1

    @property
    def filament_variance(self) -> float | None:
        if not self.ok or not self.filament_g or self.quote_filament_g is None:
            return None
        return self.quote_filament_g / self.filament_g - 1
