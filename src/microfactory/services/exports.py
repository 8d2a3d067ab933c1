"""Exports for spreadsheets: orders, the current plan, OEE per machine, SPC measurements and
stock by lot, each as one `Sheet` (named columns, typed values), written as CSV (UTF-8, a
header row) or as an Excel workbook (openpyxl; numbers as numbers, times as dates).

Times are the site's local time: in CSV as ISO 8601 with the offset (unambiguous), in Excel
as date-time cells in the zone named in the column's heading (Excel has no time zones)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from microfactory.core.clock import Clock
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339, utc, zone
from microfactory.orders import Factory, Order
from microfactory.services.factory import current_factory
from microfactory.services.loop_summary import oee_report
from microfactory.services.materials import stock_rows
from microfactory.services.ports import QualityStore, TelemetryReader, UnitOfWorkFactory

EXPORT_KINDS = ("orders", "plans", "oee", "spc", "stock")
FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OEE_DAYS = 30
ORDER_PAGE = 500


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    timezone: str = "UTC"


def check_kind(kind: str) -> str:
    if kind not in EXPORT_KINDS:
        raise ValidationError(
            f"unknown export {kind!r}; known: {', '.join(EXPORT_KINDS)}", where="kind"
        )
    return kind


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; use csv or xlsx", where="format")
    return fmt


class ExportService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        quality: QualityStore,
        telemetry: TelemetryReader,
        clock: Clock,
    ) -> None:
        self.uow = uow
        self.quality = quality
        self.telemetry = telemetry
        self.clock = clock

    def sheet(
        self, kind: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> Sheet:
        """The rows of one export; `start`/`end` bound the OEE window (default: the last
        30 days up to the shop's now)."""
        builders: dict[str, Callable[[Factory], Sheet]] = {
            "orders": self._orders,
            "plans": self._plans,
            "oee": lambda f: self._oee(f, start, end),
            "spc": self._spc,
            "stock": self._stock,
        }
        with self.uow() as tx:
            factory = current_factory(tx)
        return builders[check_kind(kind)](factory)

    def export(self, kind: str, fmt: str, **window: datetime | None) -> bytes:
        sheet = self.sheet(kind, **window)
        return to_csv(sheet) if check_format(fmt) == "csv" else to_xlsx(sheet)

    def _orders(self, factory: Factory) -> Sheet:
        with self.uow() as tx:
            orders: list[Order] = []
            while True:
                page = tx.orders.find(limit=ORDER_PAGE, offset=len(orders))
                orders.extend(page)
                if len(page) < ORDER_PAGE:
                    break
        rows = [
            (
                o.id,
                o.customer,
                o.status.value,
                o.created,
                o.due,
                o.priority,
                o.rush,
                len(o.lines),
                sum(line.quantity for line in o.lines),
                "; ".join(f"{line.quantity} x {line.product}" for line in o.lines),
                o.notes,
            )
            for o in sorted(orders, key=lambda o: (o.created, o.id))
        ]
        return Sheet(
            "orders",
            (
                "order",
                "customer",
                "status",
                "created",
                "due",
                "priority",
                "rush",
                "lines",
                "parts",
                "products",
                "notes",
            ),
            rows,
            factory.site.timezone,
        )

    def _plans(self, factory: Factory) -> Sheet:
        with self.uow() as tx:
            current = tx.plans.current_plan()
        rows: list[tuple[Any, ...]] = []
        if current is not None:
            header, ops = current
            for op in ops:
                due = op.get("due")
                rows.append(
                    (
                        header.get("version"),
                        op["operation"],
                        op["work_order"],
                        op["machine"],
                        op["start"],
                        op["end"],
                        due,
                        due is not None and op["end"] > due,
                        bool(op.get("frozen")),
                    )
                )
        return Sheet(
            "plan",
            (
                "version",
                "operation",
                "work_order",
                "machine",
                "start",
                "end",
                "due",
                "late",
                "frozen",
            ),
            rows,
            factory.site.timezone,
        )

    def _oee(self, factory: Factory, start: datetime | None, end: datetime | None) -> Sheet:
        hi = end or self.clock.now()
        lo = start or hi - timedelta(days=OEE_DAYS)
        if hi <= lo:
            raise ValidationError("the end of the OEE window must be after its start", where="end")
        report = oee_report(self.uow, self.telemetry, factory, lo, hi, "machine")
        keys = ("oee", "availability", "performance", "quality", "loading", "breakdowns")
        rows = [(lo, hi, r["machine"], *(r.get(k) for k in keys)) for r in report]
        return Sheet("oee", ("from", "to", "machine", *keys), rows, factory.site.timezone)

    def _spc(self, factory: Factory) -> Sheet:
        specs = {
            (p.id, c.name): (c.lsl, c.usl) for p in factory.products for c in p.characteristics
        }
        rows = []
        for m in self.quality.measurements():
            lsl, usl = specs.get((m["product"], m["characteristic"]), (None, None))
            value = float(m["value"])
            outside = (lsl is not None and value < lsl) or (usl is not None and value > usl)
            rows.append(
                (
                    m["ts"],
                    m["product"],
                    m["characteristic"],
                    value,
                    m.get("unit") or "",
                    lsl,
                    usl,
                    outside,
                    m.get("machine") or "",
                    m.get("part_id") or "",
                    m.get("lot_id") or "",
                )
            )
        return Sheet(
            "spc",
            (
                "measured",
                "product",
                "characteristic",
                "value",
                "unit",
                "lsl",
                "usl",
                "outside",
                "machine",
                "part",
                "lot",
            ),
            rows,
            factory.site.timezone,
        )

    def _stock(self, factory: Factory) -> Sheet:
        with self.uow() as tx:
            lots = stock_rows(tx, factory)
        keys = (
            "material",
            "lot",
            "quantity",
            "unit",
            "location",
            "expires",
            "supplier",
            "received",
            "cost",
            "purchase_order",
        )

        def value(row: dict[str, Any], key: str) -> Any:
            v = row.get(key)
            return parse_rfc3339(v) if key in ("expires", "received") and v else v

        rows = [tuple(value(r, k) for k in keys) for r in lots]
        return Sheet("stock", keys, rows, factory.site.timezone)


def _local(value: datetime, timezone: str) -> datetime:
    return utc(value).astimezone(zone(timezone))


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 CSV with a header row; times ISO 8601 in the site's zone with their offset."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(sheet.columns)
    for row in sheet.rows:
        writer.writerow(
            [
                _local(v, sheet.timezone).isoformat()
                if isinstance(v, datetime)
                else ("" if v is None else v)
                for v in row
            ]
        )
    return out.getvalue().encode("utf-8")


def to_xlsx(sheet: Sheet) -> bytes:
    """One worksheet: a bold, frozen header row; times as date-time cells in the site's
    zone (named in the heading), numbers as numbers, booleans as TRUE/FALSE."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet.name
    times = {
        i for i in range(len(sheet.columns)) if any(isinstance(r[i], datetime) for r in sheet.rows)
    }
    ws.append([f"{c} ({sheet.timezone})" if i in times else c for i, c in enumerate(sheet.columns)])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        ws.append(
            [
                _local(v, sheet.timezone).replace(tzinfo=None) if isinstance(v, datetime) else v
                for v in row
            ]
        )
    for i in times:
        letter = get_column_letter(i + 1)
        for cell in ws[letter][1:]:
            cell.number_format = "yyyy-mm-dd hh:mm"
    for i, name in enumerate(sheet.columns):
        ws.column_dimensions[get_column_letter(i + 1)].width = max(10, min(40, len(name) + 8))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
