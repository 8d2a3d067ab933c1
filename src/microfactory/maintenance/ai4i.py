"""AI4I 2020 predictive-maintenance data (Matzka 2020, UCI id 601): reader and features.

Only what a machine knows before a process runs is turned into features: product
quality type, air and process temperature, spindle speed, torque and tool wear, plus
physics-derived quantities (mechanical power, temperature difference, overstrain as
tool wear x torque relative to the quality type's strain limit). The failure-mode flags
(TWF, HDF, PWF, OSF, RNF) and the target are labels and never reach the features;
`ai4i_features` refuses a table that would smuggle them in under a feature name.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from microfactory.core import ValidationError
from microfactory.core.files import read_data_text

TARGET = "Machine failure"
MODE_FLAGS: tuple[str, ...] = ("TWF", "HDF", "PWF", "OSF", "RNF")
LABEL_COLUMNS: frozenset[str] = frozenset((TARGET, *MODE_FLAGS))
RAW_COLUMNS: tuple[str, ...] = (
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
)
TYPES: tuple[str, ...] = ("L", "M", "H")
# Overstrain limits by quality type (min x Nm), from the data set's documented physics.
STRAIN_LIMIT: dict[str, float] = {"L": 11000.0, "M": 12000.0, "H": 13000.0}
FEATURE_NAMES: tuple[str, ...] = (
    "type_rank",
    "air_temp_k",
    "process_temp_k",
    "speed_rpm",
    "torque_nm",
    "tool_wear_min",
    "temp_diff_k",
    "power_w",
    "strain",
    "strain_ratio",
    "power_margin",
    "heat_margin",
    "power_outside_window",
    "heat_limited",
    "overstrained",
)
# Documented machine limits (UCI description): power window and heat-dissipation limits.
POWER_MIN_W = 3500.0
POWER_MAX_W = 9000.0
HEAT_MIN_DIFF_K = 8.6
HEAT_MIN_SPEED_RPM = 1380.0


@dataclass(frozen=True)
class Ai4iTable:
    """The measured columns of AI4I 2020 (one row per process) and its labels."""

    product_type: tuple[str, ...]
    measurements: NDArray[np.float64]  # (n, 5) in RAW_COLUMNS order
    failure: NDArray[np.int64]
    modes: NDArray[np.int64]  # (n, 5) in MODE_FLAGS order


def read_ai4i(path: str | Path) -> Ai4iTable:
    """Read `ai4i2020.csv` (UTF-8 with a BOM, comma-separated, one header line).

    The file may be gzipped or xz-compressed; that is recognised by its content.
    """
    path = Path(path)
    text = read_data_text(path, encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or ())
    missing = [c for c in ("Type", *RAW_COLUMNS, TARGET, *MODE_FLAGS) if c not in header]
    if missing:
        raise ValidationError(f"missing columns: {', '.join(missing)}", where=str(path))
    types: list[str] = []
    values: list[list[float]] = []
    target: list[int] = []
    modes: list[list[int]] = []
    for lineno, row in enumerate(reader, start=2):
        where = f"{path}:{lineno}"
        kind = (row["Type"] or "").strip()
        if kind not in STRAIN_LIMIT:
            raise ValidationError(f"unknown product type {kind!r}", where=where)
        try:
            vals = [float(row[c]) for c in RAW_COLUMNS]
            label = int(row[TARGET])
            flags = [int(row[c]) for c in MODE_FLAGS]
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"bad number: {exc}", where=where) from exc
        if not all(math.isfinite(v) for v in vals):
            raise ValidationError("non-finite measurement", where=where)
        if label not in (0, 1) or any(f not in (0, 1) for f in flags):
            raise ValidationError("labels must be 0 or 1", where=where)
        types.append(kind)
        values.append(vals)
        target.append(label)
        modes.append(flags)
    if not values:
        raise ValidationError("file holds no data rows", where=str(path))
    return Ai4iTable(
        product_type=tuple(types),
        measurements=np.asarray(values, dtype=np.float64),
        failure=np.asarray(target, dtype=np.int64),
        modes=np.asarray(modes, dtype=np.int64),
    )


def physics_features(
    product_type: tuple[str, ...] | list[str], measurements: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Feature matrix (n, len(FEATURE_NAMES)) from the type and the five measurements."""
    m = np.asarray(measurements, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != len(RAW_COLUMNS):
        raise ValidationError(f"measurements must be (n, {len(RAW_COLUMNS)})")
    if len(product_type) != m.shape[0]:
        raise ValidationError("one product type per row is required")
    unknown = sorted(set(product_type) - set(STRAIN_LIMIT))
    if unknown:
        raise ValidationError(f"unknown product types: {unknown}")
    air, proc, rpm, torque, wear = m.T
    rank = np.array([TYPES.index(t) for t in product_type], dtype=np.float64)
    limit = np.array([STRAIN_LIMIT[t] for t in product_type])
    power = torque * rpm * 2.0 * math.pi / 60.0
    strain = wear * torque
    diff = proc - air
    # Signed distance to the nearest power limit (negative: outside the safe window).
    power_margin = np.minimum(power - POWER_MIN_W, POWER_MAX_W - power)
    # Heat dissipation is at risk only when BOTH the temperature difference and the speed are
    # low, so the margin is the larger of the two (scaled) distances to their limits.
    heat_margin = np.maximum(diff - HEAT_MIN_DIFF_K, (rpm - HEAT_MIN_SPEED_RPM) / 100.0)
    return np.column_stack(
        [
            rank,
            air,
            proc,
            rpm,
            torque,
            wear,
            diff,
            power,
            strain,
            strain / limit,
            power_margin,
            heat_margin,
            # Limit exceedances as 0/1: a tree splits a margin at the midpoint between the
            # nearest training rows, which can sit far from the physical limit itself.
            (power_margin < 0).astype(np.float64),
            (heat_margin < 0).astype(np.float64),
            (strain > limit).astype(np.float64),
        ]
    )


def ai4i_features(table: Ai4iTable) -> tuple[NDArray[np.float64], list[str]]:
    """Features of every row and their names. Labels are not an input of this function,
    and the names are checked against the label columns as a second guard."""
    names = list(FEATURE_NAMES)
    leaked = LABEL_COLUMNS.intersection(names)
    if leaked:
        raise ValidationError(f"label columns among the features: {sorted(leaked)}")
    return physics_features(table.product_type, table.measurements), names
