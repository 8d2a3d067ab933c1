"""Exports re-read as a spreadsheet user would: the CSV with the csv module, the workbook with
openpyxl; the same rows in both, times in the site's zone, numbers as numbers. From the CLI
(`microfactory export`) and from the dashboard's download links."""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from microfactory.cli.main import main
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.services.planning import PlanningSettings

from .conftest import PITCHES, T0, Shop


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def read_xlsx(data: bytes) -> tuple[list[str], list[tuple[object, ...]]]:
    ws = load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(values_only=True))
    return [str(c) for c in rows[0]], rows[1:]


def service(shop: Shop):  # type: ignore[no-untyped-def]
    return shop.container.exports(FixedClock(T0 + timedelta(days=1)))


def test_orders_in_csv_and_excel(shop: Shop) -> None:
    rows = read_csv(service(shop).export("orders", "csv"))
    assert [r["order"] for r in rows] == ["SO-1", "SO-2"]
    assert rows[0]["customer"] == "acme" and rows[0]["parts"] == "10"
    assert rows[0]["due"] == "2026-03-07T09:00:00+01:00"  # 08:00 UTC in Europe/Berlin
    header, cells = read_xlsx(service(shop).export("orders", "xlsx"))
    assert header[:5] == [
        "order",
        "customer",
        "status",
        "created (Europe/Berlin)",
        "due (Europe/Berlin)",
    ]
    assert cells[0][0] == "SO-1" and cells[0][8] == 10  # a number, not text
    assert cells[0][4] == datetime(2026, 3, 7, 9, 0)  # a date-time cell, local


def test_spc_measurements_with_their_limits(shop: Shop) -> None:
    rows = read_csv(service(shop).export("spc", "csv"))
    assert [float(r["value"]) for r in rows] == list(PITCHES)
    assert [r["outside"] for r in rows] == ["False"] * 4 + ["True"]  # 40.31 > USL 40.2
    assert rows[0]["lot"] == "LOT-SO-1-1" and rows[0]["usl"] == "40.2"
    header, cells = read_xlsx(service(shop).export("spc", "xlsx"))
    values = [c[header.index("value")] for c in cells]
    assert values == list(PITCHES)


def test_stock_by_lot(shop: Shop) -> None:
    rows = read_csv(service(shop).export("stock", "csv"))
    lot = next(r for r in rows if r["lot"] == "PLA-B-2611")
    assert float(lot["quantity"]) == pytest.approx(8 - 0.45)  # 10 parts × 45 g issued


def test_the_current_plan(shop: Shop) -> None:
    clock = FixedClock(T0 + timedelta(hours=4))
    shop.container.planning(PlanningSettings(time_limit=2.0, workers=1), clock).plan("test")
    rows = read_csv(service(shop).export("plans", "csv"))
    assert {r["work_order"] for r in rows} == {"SO-2-1"}  # SO-1 is done
    assert {r["operation"] for r in rows} == {"SO-2-1-1", "SO-2-1-2", "SO-2-1-3"}
    assert all(r["start"] < r["end"] for r in rows)


def test_oee_per_machine_over_a_window(shop: Shop) -> None:
    rows = read_csv(service(shop).export("oee", "csv"))
    machines = {m.id for m in shop.factory.machines}
    assert rows and {r["machine"] for r in rows} <= machines
    with pytest.raises(ValidationError, match="after its start"):
        service(shop).export("oee", "csv", start=T0, end=T0)


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("invoices", "csv"),  # not an export
        ("orders", "pdf"),  # not a spreadsheet format
    ],
)
def test_bad_kind_or_format_is_refused(shop: Shop, kind: str, fmt: str) -> None:
    with pytest.raises(ValidationError):
        service(shop).export(kind, fmt)


def test_the_export_command_writes_the_file(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(shop.container.engine.url)
    out = tmp_path / "orders.xlsx"
    monkeypatch.setattr(
        sys,
        "argv",
        ["microfactory", "export", "orders", "--format", "xlsx", "--out", str(out), "--db", db],
    )
    main()
    header, cells = read_xlsx(out.read_bytes())
    assert header[0] == "order" and len(cells) == 2
    monkeypatch.setattr(
        sys,
        "argv",
        ["microfactory", "export", "orders", "--format", "csv", "--out", str(out), "--db", db],
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code != 0  # .xlsx named for --format csv
