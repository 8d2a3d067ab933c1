"""Measurement CSV parsing: good files and clear errors naming line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from microfactory.core.errors import ValidationError
from microfactory.quality.measurement_csv import read_measurements


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_values_sizes_and_subgroups(tmp_path: Path) -> None:
    table = read_measurements(write(tmp_path, "subgroup,value,size\nA,1.5,10\nA,2,10\n\nB,3,12\n"))
    assert table.values.tolist() == [1.5, 2.0, 3.0]
    assert table.sizes is not None and table.sizes.tolist() == [10.0, 10.0, 12.0]
    assert table.subgroups == ("A", "A", "B")


def test_header_is_case_insensitive_and_other_columns_are_ignored(tmp_path: Path) -> None:
    table = read_measurements(write(tmp_path, "ts,Value,operator\n2026-01-01,4.25,ann\n"))
    assert table.values.tolist() == [4.25]
    assert table.sizes is None and table.subgroups is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),  # nothing at all
        ("x,y\n1,2\n", ":1: header has no 'value' column"),  # wrong header
        ("value\n", "no data rows"),  # header only
        ("value\n1\nabc\n", ":3: column 'value': 'abc' is not a number"),  # text in a number
        ("value\n1\n\n2\n \n", None),  # blank lines are skipped (valid file)
        ("value,size\n1,10\n2,\n", ":3: column 'size' is empty"),  # missing size
        ("value,size\n1,0\n", ":2: column 'size' must be positive"),  # zero size
        ("value\nnan\n", ":2: column 'value': 'nan' is not a finite number"),  # NaN
        ("value,subgroup\n1,\n", ":2: column 'subgroup' is empty"),  # missing label
        ("value,size\n1,10,3\n", ":2: expected 2 fields, found 3"),  # ragged row
    ],
)
def test_bad_files_name_line_and_column(tmp_path: Path, text: str, message: str | None) -> None:
    path = write(tmp_path, text)
    if message is None:
        assert read_measurements(path).values.tolist() == [1.0, 2.0]
        return
    with pytest.raises(ValidationError) as info:
        read_measurements(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        read_measurements(tmp_path / "absent.csv")
