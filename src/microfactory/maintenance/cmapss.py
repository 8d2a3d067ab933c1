"""Reader for the NASA C-MAPSS turbofan files (Saxena et al., PHM08).

Each file is whitespace-separated text with 26 numeric columns and no header: unit, cycle,
three operating settings and 21 sensors. Files may be gzipped or xz-compressed (detected by
their magic bytes, not their name). The reader checks the layout and that each unit's cycles run
1, 2, 3, ... without gaps, so every later step can rely on it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from microfactory.core import ValidationError
from microfactory.core.files import read_data_bytes

N_SETTINGS = 3
N_SENSORS = 21
N_COLUMNS = 2 + N_SETTINGS + N_SENSORS
SETTING_NAMES: tuple[str, ...] = tuple(f"op_setting_{i}" for i in range(1, N_SETTINGS + 1))
SENSOR_NAMES: tuple[str, ...] = tuple(f"sensor_{i}" for i in range(1, N_SENSORS + 1))

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class RunSet:
    """Multivariate time series of several units, rows sorted by (unit, cycle).

    `settings` is (n_rows, n_settings), `sensors` is (n_rows, n_sensors). `sensor_names`
    names the sensor columns; `unit` and `cycle` are integer arrays of length n_rows.
    """

    unit: IntArray
    cycle: IntArray
    settings: FloatArray
    sensors: FloatArray
    sensor_names: tuple[str, ...] = SENSOR_NAMES

    def __post_init__(self) -> None:
        n = len(self.unit)
        if len(self.cycle) != n or self.settings.shape[0] != n or self.sensors.shape[0] != n:
            raise ValueError("unit, cycle, settings and sensors must have the same row count")
        if self.sensors.ndim != 2 or self.sensors.shape[1] != len(self.sensor_names):
            raise ValueError("sensors must be 2-D with one column per sensor name")
        if self.settings.ndim != 2:
            raise ValueError("settings must be 2-D")

    @property
    def n_rows(self) -> int:
        return len(self.unit)

    @property
    def units(self) -> IntArray:
        """Distinct unit ids in file order."""
        _, first = np.unique(self.unit, return_index=True)
        return self.unit[np.sort(first)]

    def unit_slices(self) -> list[slice]:
        """One slice of rows per unit, in row order (rows of a unit are contiguous)."""
        bounds = np.flatnonzero(np.diff(self.unit)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [self.n_rows]))
        return [slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]

    def lifetimes(self) -> IntArray:
        """Last observed cycle of every unit, in unit order."""
        return np.array([int(self.cycle[s][-1]) for s in self.unit_slices()], dtype=np.int64)

    def subset(self, units: IntArray | list[int]) -> RunSet:
        """The rows of the given units (in their original order)."""
        mask = np.isin(self.unit, np.asarray(units))
        return RunSet(
            unit=self.unit[mask],
            cycle=self.cycle[mask],
            settings=self.settings[mask],
            sensors=self.sensors[mask],
            sensor_names=self.sensor_names,
        )


def _read_text(path: Path) -> str:
    raw = read_data_bytes(path)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValidationError("not an ASCII C-MAPSS text file", where=str(path)) from exc


def _parse_matrix(text: str, path: Path) -> FloatArray:
    rows: list[list[float]] = []
    for lineno, line in enumerate(io.StringIO(text), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != N_COLUMNS:
            raise ValidationError(
                f"expected {N_COLUMNS} columns, found {len(fields)}", where=f"{path}:{lineno}"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError as exc:
            raise ValidationError(f"non-numeric field: {exc}", where=f"{path}:{lineno}") from exc
    if not rows:
        raise ValidationError("file holds no rows", where=str(path))
    data = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValidationError("file holds non-finite values", where=str(path))
    return data


def _check_order(unit: IntArray, cycle: IntArray, path: Path) -> None:
    new_unit = np.concatenate(([True], unit[1:] != unit[:-1]))
    starts = np.flatnonzero(new_unit)
    if len(np.unique(unit[starts])) != len(starts):
        raise ValidationError("rows of a unit are not contiguous", where=str(path))
    expected = np.ones_like(cycle)
    expected[~new_unit] = cycle[:-1][~new_unit[1:]] + 1
    bad = np.flatnonzero(cycle != expected)
    if bad.size:
        row = int(bad[0])
        raise ValidationError(
            f"unit {int(unit[row])}: cycle {int(cycle[row])} where {int(expected[row])} was "
            "expected (cycles must run 1, 2, 3, ...)",
            where=f"{path}:row {row + 1}",
        )


def read_cmapss(path: str | Path) -> RunSet:
    """Read a C-MAPSS train or test file (plain, gzipped or xz-compressed)."""
    path = Path(path)
    data = _parse_matrix(_read_text(path), path)
    ids = data[:, :2]
    if not np.all(ids == np.round(ids)):
        raise ValidationError("unit and cycle must be integers", where=str(path))
    unit = ids[:, 0].astype(np.int64)
    cycle = ids[:, 1].astype(np.int64)
    _check_order(unit, cycle, path)
    return RunSet(
        unit=unit,
        cycle=cycle,
        settings=np.ascontiguousarray(data[:, 2 : 2 + N_SETTINGS]),
        sensors=np.ascontiguousarray(data[:, 2 + N_SETTINGS :]),
    )


def read_rul(path: str | Path) -> IntArray:
    """Read a `RUL_FD00X.txt` file: one non-negative integer per line, line i = unit i."""
    path = Path(path)
    values: list[int] = []
    for lineno, line in enumerate(io.StringIO(_read_text(path)), start=1):
        field = line.strip()
        if not field:
            continue
        try:
            value = int(field)
        except ValueError as exc:
            raise ValidationError(f"not an integer: {field!r}", where=f"{path}:{lineno}") from exc
        if value < 0:
            raise ValidationError("RUL must not be negative", where=f"{path}:{lineno}")
        values.append(value)
    if not values:
        raise ValidationError("file holds no RUL values", where=str(path))
    return np.asarray(values, dtype=np.int64)


def training_rul(runs: RunSet, cap: float | None = None) -> FloatArray:
    """Remaining cycles at every row of run-to-failure data, optionally capped (piecewise
    linear target: `min(T_fail - t, cap)`)."""
    rul = np.empty(runs.n_rows, dtype=np.float64)
    for s in runs.unit_slices():
        cycles = runs.cycle[s]
        rul[s] = cycles[-1] - cycles
    if cap is not None:
        np.minimum(rul, cap, out=rul)
    return rul
