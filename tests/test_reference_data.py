"""The reference data committed under tests/data is the published data, byte for byte.

The MD5 of each decompressed file is the one given in the set's note (tests/data/cmapss/
REFERENCE.md, tests/data/ai4i2020/REFERENCE.md), so compressing the files for the repository
changed nothing the tests read.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from microfactory.core.files import read_data_bytes

PUBLISHED_MD5 = {
    "cmapss/train_FD001.txt.xz": "259f340bac32ce6fa8894815600fa757",
    "cmapss/test_FD001.txt.xz": "62316d1dd70f88a9a43a1e2690765437",
    "cmapss/RUL_FD001.txt": "8f4a8b3d2692b2f7d8e72b344927bf4b",
    "cmapss/train_FD003.txt.xz": "81298e81977a53aa268ad500ac42b2d7",
    "cmapss/test_FD003.txt.xz": "602bec683069f2460590f1b32ee77ec9",
    "cmapss/RUL_FD003.txt": "93d593d8a0ea31bafd047470f3bad1f8",
    "ai4i2020/ai4i2020.csv.xz": "34e3ce061c67f6f3d021e16ea5ab7283",
}


@pytest.mark.parametrize(("name", "md5"), sorted(PUBLISHED_MD5.items()))
def test_decompressed_file_has_the_published_md5(reference_data: Path, name: str, md5: str) -> None:
    assert (
        hashlib.md5(read_data_bytes(reference_data / name), usedforsecurity=False).hexdigest()
        == md5
    )


@pytest.mark.parametrize(("name", "md5"), sorted(PUBLISHED_MD5.items()))
def test_the_md5_is_the_one_in_the_sets_note(reference_data: Path, name: str, md5: str) -> None:
    note = (reference_data / name.split("/")[0] / "REFERENCE.md").read_text(encoding="utf-8")
    assert md5 in re.findall(r"[0-9a-f]{32}", note)


def test_every_data_set_carries_its_licence_note(reference_data: Path) -> None:
    for folder in ("jssp", "fjsp/brandimarte", "cmapss", "ai4i2020"):
        note = (reference_data / folder / "README.md").read_text(encoding="utf-8")
        assert "Licence" in note or "licence" in note, folder
    assert "CC BY 4.0" in (reference_data / "ai4i2020" / "README.md").read_text(encoding="utf-8")
