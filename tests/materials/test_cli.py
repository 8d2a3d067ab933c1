"""The materials commands as a user runs them, on a SQLite file: the JSON contracts of
`materials list`, `materials suggest` and `trace`, receipts and adjustments, purchase orders
placed and received, CSV exports, the mass balance, and bad input refused with the field."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.demo import DEMO_START
from microfactory.cli.main import main
from microfactory.core.clock import FixedClock
from microfactory.orders import OrderLine
from microfactory.services.factory import init_factory

from .conftest import release


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, DEMO_FACTORY, FixedClock(DEMO_START))
        release(container.uow, "SO-1", (OrderLine("large-prototype", 40),))
    finally:
        container.close()
    return url


def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["microfactory", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    code, out, err = cli(capsys, monkeypatch, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_list_is_stock_by_lot(db: str, capsys: Any, monkeypatch: Any) -> None:
    rows = as_json(capsys, monkeypatch, "materials", "list", "--db", db)
    assert {"material", "lot", "quantity", "unit", "location", "expires"} <= set(rows[0])
    resin = [r for r in rows if r["material"] == "resin-grey"]
    assert [r["lot"] for r in resin] == ["RES-G-2607", "RES-G-2609"]
    assert {r["unit"] for r in resin} == {"l"} and resin[0]["expires"] == "2026-01-24T00:00:00Z"


def test_receive_adjust_and_the_ledger(db: str, capsys: Any, monkeypatch: Any) -> None:
    row = as_json(
        capsys, monkeypatch, "materials", "receive", "petg", "--lot", "PETG-NEW", "--quantity",
        "2500", "--unit", "g", "--supplier", "Prusament", "--cost", "0.025", "--location",
        "rack-9", "--db", db,
    )  # fmt: skip
    assert (row["lot"], row["quantity"], row["unit"]) == ("PETG-NEW", 2.5, "kg")
    assert row["cost"] == pytest.approx(25.0)  # per kg
    adjusted = as_json(
        capsys, monkeypatch, "materials", "adjust", "PETG-NEW", "--count", "2.3", "--reason",
        "spool weighed", "--db", db,
    )  # fmt: skip
    assert adjusted["quantity"] == pytest.approx(2.3)
    moves = as_json(capsys, monkeypatch, "materials", "movements", "--lot", "PETG-NEW", "--db", db)
    assert [(m["kind"], m["quantity"]) for m in moves] == [
        ("receipt", 2.5),
        ("adjustment", pytest.approx(-0.2)),
    ]
    assert moves[1]["reason"] == "spool weighed"
    balance = as_json(capsys, monkeypatch, "materials", "balance", "--db", db)
    assert balance["balanced"] is True


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["petg", "--lot", "X", "--quantity", "-1"], "quantity"),  # negative
        (["petg", "--lot", "X", "--quantity", "nan"], "quantity"),  # not a number
        (["resin-grey", "--lot", "X", "--quantity", "1", "--unit", "kg"], "unit"),  # mismatch
        (["nylon", "--lot", "X", "--quantity", "1"], "material"),  # unknown material
        (["petg", "--lot", "X", "--quantity", "1", "--expires", "2020-01-01"], "expires"),  # old
        (["petg", "--lot", "X", "--quantity", "1", "--expires", "soon"], "--expires"),  # no date
    ],
)
def test_bad_receipts_exit_2_naming_the_field(
    db: str, capsys: Any, monkeypatch: Any, args: list[str], field: str
) -> None:
    code, _, err = cli(capsys, monkeypatch, "materials", "receive", *args, "--db", db)
    assert code == 2 and f"{field}:" in err
    rows = as_json(capsys, monkeypatch, "materials", "list", "--all", "--db", db)
    assert "X" not in {r["lot"] for r in rows}


def test_suggest_order_and_receive_a_purchase_order(db: str, capsys: Any, monkeypatch: Any) -> None:
    # 40 large prototypes need 56 kg of PETG; 45 kg are on hand, 20 kg are safety stock
    suggestions = as_json(capsys, monkeypatch, "materials", "suggest", "--db", db)
    (petg,) = [s for s in suggestions if s["material"] == "petg"]
    assert {"material", "supplier", "quantity", "order_by", "needed_by"} <= set(petg)
    assert petg["supplier"] == "Prusament" and petg["quantity"] >= 40
    po = as_json(
        capsys, monkeypatch, "materials", "order", "petg", "--quantity", str(petg["quantity"]),
        "--db", db,
    )  # fmt: skip
    assert po["status"] == "open" and po["id"] == "PO-00001"
    again = as_json(capsys, monkeypatch, "materials", "suggest", "--db", db)
    assert [s for s in again if s["material"] == "petg"] == []  # ordered: not suggested again
    got = as_json(capsys, monkeypatch, "materials", "receive", "--po", "PO-00001", "--db", db)
    assert got["lot"] == "PO-00001-L1" and got["purchase_order"] == "PO-00001"
    orders = as_json(capsys, monkeypatch, "materials", "orders", "--db", db)
    assert [(o["id"], o["status"]) for o in orders] == [("PO-00001", "received")]


def test_exports_are_csv(db: str, capsys: Any, monkeypatch: Any, tmp_path: Path) -> None:
    code, out, err = cli(capsys, monkeypatch, "materials", "export", "stock", "--db", db)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0].keys() >= {"material", "lot", "quantity", "unit", "location", "expires"}
    target = tmp_path / "ledger.csv"
    code, _, err = cli(
        capsys, monkeypatch, "materials", "export", "movements", "--out", str(target), "--db", db
    )
    assert code == 0, err
    ledger = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {r["kind"] for r in ledger} == {"receipt"} and len(ledger) == len(rows)


def test_trace_accepts_an_order_id(db: str, capsys: Any, monkeypatch: Any) -> None:
    out = as_json(capsys, monkeypatch, "trace", "SO-1", "--db", db)
    assert out["kind"] == "order" and out["direction"] == "backward"
    assert out["materials"] == [] and out["customers"] == ["acme"]
