"""Read measurement CSV files for the SPC and capability commands.

Layout: a header row, then one row per measurement (or per sample for attribute charts).

* ``value`` (required): the measurement; for p / np charts the number of nonconforming
  units in the sample; for c / u charts the number of nonconformities.
* ``size`` (optional): sample size for p / np / u charts.
* ``subgroup`` (optional): subgroup label; rows with the same label form one subgroup,
  ordered by first appearance.

Other columns are ignored. Every error names the file, the line (1-based, the header is
line 1) and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from microfactory.core.errors import ValidationError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MeasurementTable:
    """Columns of a measurement file; ``sizes``/``subgroups`` are None when absent."""

    values: FloatArray
    sizes: FloatArray | None
    subgroups: tuple[str, ...] | None
    source: str


def _number(text: str, where: str, column: str) -> float:
    cell = text.strip()
    if not cell:
        raise ValidationError(f"column {column!r} is empty", where=where)
    try:
        value = float(cell)
    except ValueError:
        raise ValidationError(f"column {column!r}: {cell!r} is not a number", where=where) from None
    if not math.isfinite(value):
        raise ValidationError(f"column {column!r}: {cell!r} is not a finite number", where=where)
    return value


def read_measurements(path: str | Path) -> MeasurementTable:
    """Parse ``path``; raise :class:`ValidationError` naming line and column on bad input."""
    file = Path(path)
    name = str(file)
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError("file not found", where=name) from None
    except OSError as exc:
        raise ValidationError(f"cannot read file: {exc.strerror}", where=name) from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationError(
                "file is empty; expected a header with a 'value' column", where=name
            ) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationError(f"not a readable CSV file: {exc}", where=f"{name}:1") from None
        columns = [h.strip().lower() for h in header]
        if "value" not in columns:
            raise ValidationError(
                f"header has no 'value' column (found: {', '.join(columns) or 'nothing'})",
                where=f"{name}:1",
            )
        i_value = columns.index("value")
        i_size = columns.index("size") if "size" in columns else None
        i_group = columns.index("subgroup") if "subgroup" in columns else None
        values: list[float] = []
        sizes: list[float] = []
        groups: list[str] = []
        try:
            for row in reader:
                line = reader.line_num
                where = f"{name}:{line}"
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ValidationError(
                        f"expected {len(header)} fields, found {len(row)}", where=where
                    )
                values.append(_number(row[i_value], where, "value"))
                if i_size is not None:
                    size = _number(row[i_size], where, "size")
                    if size <= 0:
                        raise ValidationError(
                            f"column 'size' must be positive, got {size:g}", where=where
                        )
                    sizes.append(size)
                if i_group is not None:
                    label = row[i_group].strip()
                    if not label:
                        raise ValidationError("column 'subgroup' is empty", where=where)
                    groups.append(label)
        except csv.Error as exc:
            raise ValidationError(
                f"malformed CSV: {exc}", where=f"{name}:{reader.line_num}"
            ) from None
        except UnicodeDecodeError:
            raise ValidationError("file is not UTF-8 text", where=name) from None
    if not values:
        raise ValidationError("no data rows after the header", where=name)
    return MeasurementTable(
        values=np.asarray(values, dtype=np.float64),
        sizes=np.asarray(sizes, dtype=np.float64) if i_size is not None else None,
        subgroups=tuple(groups) if i_group is not None else None,
        source=name,
    )
