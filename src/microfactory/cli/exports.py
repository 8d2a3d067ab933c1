"""`microfactory export KIND --format csv|xlsx --out FILE`: orders, the current plan, OEE per
machine, SPC measurements or stock by lot, for a spreadsheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339
from microfactory.services.exports import EXPORT_KINDS, check_format, check_kind, to_csv, to_xlsx


def export_cmd(
    kind: Annotated[str, typer.Argument(help=f"What to export: {', '.join(EXPORT_KINDS)}")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: KIND.FORMAT here)")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="OEE window start (RFC 3339); default 30 days back")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="OEE window end (RFC 3339); default the shop's now")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON")] = False,
) -> None:
    """Export orders, plans, oee, spc or stock as CSV or Excel; times in the site's zone."""
    check_kind(kind)
    check_format(fmt)
    path = out if out is not None else Path(f"{kind}.{fmt}")
    if path.suffix.lower() != f".{fmt}":
        raise ValidationError(f"--out {path} must end in .{fmt} for --format {fmt}", where="out")
    if not path.parent.exists():
        raise ValidationError(f"folder {path.parent} does not exist", where="out")
    window = {
        "start": parse_rfc3339(start) if start else None,
        "end": parse_rfc3339(end) if end else None,
    }
    container = open_container(db)
    try:
        service = container.exports()
        sheet = service.sheet(kind, **window)
    finally:
        container.close()
    data = to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)
    path.write_bytes(data)
    if as_json:
        print_json({"kind": kind, "format": fmt, "file": str(path), "rows": len(sheet.rows)})
    else:
        console.print(f"{kind}: {len(sheet.rows)} rows to {path}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("export")(export_cmd)
