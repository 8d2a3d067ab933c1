"""`microfactory docs ...` as a user runs it: the PDF lands where --out says, with the
document's text; a bad key or file name is refused with one line naming it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from microfactory.cli.main import main

from .conftest import Shop
from .test_documents import text_of


def cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["microfactory", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.parametrize(
    ("command", "key", "title"),
    [
        ("traveller", "SO-1-1", "Traveller SO-1-1"),
        ("labels", "SO-1-1", "part 10 of 10"),
        ("certificate", "LOT-SO-1-1", "Certificate of conformance LOT-SO-1-1"),
        ("packing-slip", "SO-1", "Packing slip SO-1"),
    ],
)
def test_each_document_is_written_to_out(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, key: str, title: str
) -> None:
    out = tmp_path / f"{command}.pdf"
    db = str(shop.container.engine.url)
    assert cli(monkeypatch, "docs", command, key, "--out", str(out), "--db", db) == 0
    assert title in text_of(out.read_bytes())


def test_an_unknown_work_order_and_a_wrong_suffix_are_refused(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(shop.container.engine.url)
    assert cli(monkeypatch, "docs", "traveller", "SO-9-9", "--db", db) != 0
    assert "SO-9-9" in capsys.readouterr().err
    out = tmp_path / "t.txt"
    assert cli(monkeypatch, "docs", "traveller", "SO-1-1", "--out", str(out), "--db", db) != 0
    assert ".pdf" in capsys.readouterr().err and not out.exists()
