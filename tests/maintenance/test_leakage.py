"""Leakage guards: labels never reach the features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from microfactory.core import ValidationError
from microfactory.core.files import read_data_text
from microfactory.maintenance import ai4i
from microfactory.maintenance.ai4i import LABEL_COLUMNS, ai4i_features, read_ai4i


@pytest.fixture(scope="module")
def table(ai4i_csv: Path) -> ai4i.Ai4iTable:
    return read_ai4i(ai4i_csv)


def test_reader_counts(table: ai4i.Ai4iTable) -> None:
    assert len(table.failure) == 10000
    assert int(table.failure.sum()) == 339
    assert table.modes.sum(axis=0).tolist() == [46, 115, 95, 98, 19]


def test_feature_names_exclude_every_label_column(table: ai4i.Ai4iTable) -> None:
    _, names = ai4i_features(table)
    assert not LABEL_COLUMNS.intersection(names)


def test_features_do_not_change_when_labels_change(table: ai4i.Ai4iTable) -> None:
    scrambled = replace(table, failure=1 - table.failure, modes=1 - table.modes)
    np.testing.assert_array_equal(ai4i_features(table)[0], ai4i_features(scrambled)[0])


def test_a_label_named_feature_is_refused(
    table: ai4i.Ai4iTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ai4i, "FEATURE_NAMES", (*ai4i.FEATURE_NAMES, "TWF"))
    with pytest.raises(ValidationError, match="label columns"):
        ai4i_features(table)


def test_unknown_product_type_is_refused(tmp_path: Path, ai4i_csv: Path) -> None:
    lines = read_data_text(ai4i_csv, encoding="utf-8-sig").splitlines()
    bad = lines[1].replace(",M,", ",X,")
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([lines[0], bad]) + "\n")
    with pytest.raises(ValidationError, match="unknown product type"):
        read_ai4i(path)
