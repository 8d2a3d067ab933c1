"""Reading data files that may be gzip or xz compressed, and every way that can fail."""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest

from microfactory.core import ValidationError
from microfactory.core.files import read_data_bytes, read_data_text

CONTENT = b"unit cycle\n1 1\n1 2\n" * 50


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("plain.txt", lambda b: b),
        ("packed.txt.gz", gzip.compress),
        ("packed.txt.xz", lzma.compress),
        ("misnamed.txt", gzip.compress),  # recognised by content, not by name
        ("misnamed.gz", lzma.compress),
    ],
)
def test_plain_gzip_and_xz_read_the_same(
    tmp_path: Path, name: str, encode: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / name
    path.write_bytes(encode(CONTENT))
    assert read_data_bytes(path) == CONTENT
    assert read_data_text(path) == CONTENT.decode()


def test_utf8_bom_is_dropped_with_utf8_sig(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv.xz"
    path.write_bytes(lzma.compress("\ufeffa,b\n1,2\n".encode()))
    assert read_data_text(path, encoding="utf-8-sig") == "a,b\n1,2\n"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (gzip.compress(CONTENT)[:30], "broken gzip stream"),  # truncated
        (b"\x1f\x8b" + b"\x00" * 40, "broken gzip stream"),  # magic, then garbage
        (lzma.compress(CONTENT)[:40], "broken xz stream"),  # truncated
        (b"\xfd7zXZ\x00" + b"\x00" * 40, "broken xz stream"),  # magic, then garbage
    ],
    # named, not by their bytes: a gzip header holds the time it was made, and parallel
    # workers (pytest-xdist) must all collect the same test ids
    ids=["gzip-truncated", "gzip-garbage", "xz-truncated", "xz-garbage"],
)
def test_broken_streams_name_the_file(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "broken.dat"
    path.write_bytes(raw)
    with pytest.raises(ValidationError, match=message) as info:
        read_data_bytes(path)
    assert info.value.where == str(path)


def test_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read file"):
        read_data_bytes(tmp_path / "absent.txt")


def test_undecodable_text_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt.gz"
    path.write_bytes(gzip.compress("température".encode("latin-1")))
    with pytest.raises(ValidationError, match="not ascii text") as info:
        read_data_text(path, encoding="ascii")
    assert info.value.where == str(path)
