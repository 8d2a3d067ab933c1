"""The C-MAPSS reader against the published row and unit counts, and bad files."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest

from microfactory.core import ValidationError
from microfactory.maintenance.cmapss import read_cmapss, read_rul, training_rul

ROW = "1 {c} -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n"  # noqa: E501


@pytest.mark.parametrize(
    ("name", "rows", "units", "max_cycle"),
    [
        ("train_FD001.txt.xz", 20631, 100, 362),
        ("test_FD001.txt.xz", 13096, 100, 303),
        ("train_FD003.txt.xz", 24720, 100, 525),
        ("test_FD003.txt.xz", 16596, 100, 475),
    ],
)
def test_reader_matches_published_counts(
    cmapss_dir: Path, name: str, rows: int, units: int, max_cycle: int
) -> None:
    runs = read_cmapss(cmapss_dir / name)
    assert runs.n_rows == rows
    assert len(runs.units) == units
    assert int(runs.lifetimes().max()) == max_cycle


def test_first_row_of_fd001_is_the_canonical_one(cmapss_dir: Path) -> None:
    runs = read_cmapss(cmapss_dir / "train_FD001.txt.xz")
    assert (runs.unit[0], runs.cycle[0]) == (1, 1)
    np.testing.assert_allclose(runs.settings[0], [-0.0007, -0.0004, 100.0])
    np.testing.assert_allclose(runs.sensors[0, :2], [518.67, 641.82])


def test_rul_file_starts_with_published_values(cmapss_dir: Path) -> None:
    rul = read_rul(cmapss_dir / "RUL_FD001.txt")
    assert len(rul) == 100
    assert rul[:5].tolist() == [112, 98, 69, 82, 91]


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "plain_name.txt"
    path.write_bytes(gzip.compress((ROW.format(c=1) + ROW.format(c=2)).encode()))
    assert read_cmapss(path).n_rows == 2


def test_xz_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "plain_name.txt"
    path.write_bytes(lzma.compress((ROW.format(c=1) + ROW.format(c=2)).encode()))
    assert read_cmapss(path).n_rows == 2


def test_training_rul_is_piecewise_linear(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("".join(ROW.format(c=c) for c in range(1, 6)))
    runs = read_cmapss(path)
    assert training_rul(runs).tolist() == [4, 3, 2, 1, 0]
    assert training_rul(runs, cap=2).tolist() == [2, 2, 2, 1, 0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 1 0.0 0.0\n", "expected 26 columns"),  # truncated row
        (ROW.format(c=1).replace("518.67", "abc"), "non-numeric"),  # text in a number
        (ROW.format(c=1) + ROW.format(c=3), "cycle 3 where 2"),  # a gap in the cycles
        (ROW.format(c=2), "cycle 2 where 1"),  # a unit that does not start at cycle 1
        ("", "no rows"),  # empty file
        (ROW.format(c=1).replace("518.67", "nan"), "non-finite"),  # NaN value
    ],
)
def test_bad_files_raise_validation_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValidationError, match=message):
        read_cmapss(path)


def test_broken_gzip_raises_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(ROW.encode())[:20])
    with pytest.raises(ValidationError, match="gzip"):
        read_cmapss(path)


def test_broken_xz_raises_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt.xz"
    path.write_bytes(lzma.compress(ROW.encode())[:40])
    with pytest.raises(ValidationError, match="xz"):
        read_cmapss(path)


def test_missing_file_raises_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        read_cmapss(tmp_path / "absent.txt")


@pytest.mark.parametrize(
    ("content", "message"),
    [("12\nabc\n", "not an integer"), ("-3\n", "negative"), ("\n", "no RUL")],
)
def test_bad_rul_files_raise(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rul.txt"
    path.write_text(content)
    with pytest.raises(ValidationError, match=message):
        read_rul(path)
