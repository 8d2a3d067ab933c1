"""`microfactory docs ...`: printable shop documents as PDF — a work order's traveller and
part labels, a finished lot's certificate of conformance, an order's packing slip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.core.errors import ValidationError
from microfactory.orders.documents import DocumentKind

docs_app = typer.Typer(
    help="Printable documents (PDF): traveller, part labels, certificate, packing slip.",
    no_args_is_help=True,
)

DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="PDF file to write (default: KIND-KEY.pdf here)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print what was written as JSON")]


def _write(kind: DocumentKind, key: str, out: Path | None, db: str | None, as_json: bool) -> None:
    container = open_container(db)
    try:
        document, pdf = container.documents().pdf(kind, key)
    finally:
        container.close()
    path = out if out is not None else Path(f"{document.filename}.pdf")
    if path.suffix.lower() != ".pdf":
        raise ValidationError(f"--out {path} must end in .pdf", where="out")
    if path.parent and not path.parent.exists():
        raise ValidationError(f"folder {path.parent} does not exist", where="out")
    path.write_bytes(pdf)
    if as_json:
        print_json({"document": kind.value, "key": key, "file": str(path), "bytes": len(pdf)})
    else:
        console.print(f"{document.title}: {path} ({len(pdf):,} bytes)")


def traveller_cmd(
    work_order: Annotated[str, typer.Argument(help="Work order id")],
    out: OutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The traveller (job card) of a work order, with barcodes of it and of each operation."""
    _write(DocumentKind.TRAVELLER, work_order, out, db, as_json)


def labels_cmd(
    work_order: Annotated[str, typer.Argument(help="Work order id")],
    out: OutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One label per part (serial or lot barcode), 24 to an A4 sheet."""
    _write(DocumentKind.LABELS, work_order, out, db, as_json)


def certificate_cmd(
    lot: Annotated[str, typer.Argument(help="Finished work order id or its part lot")],
    out: OutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The certificate of conformance of a finished lot: material lots and measurements."""
    _write(DocumentKind.CERTIFICATE, lot, out, db, as_json)


def packing_slip_cmd(
    order: Annotated[str, typer.Argument(help="Order id")],
    out: OutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The packing slip of an order: each line with quantity, lot and serials."""
    _write(DocumentKind.PACKING_SLIP, order, out, db, as_json)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    docs_app.command("traveller")(traveller_cmd)
    docs_app.command("labels")(labels_cmd)
    docs_app.command("certificate")(certificate_cmd)
    docs_app.command("packing-slip")(packing_slip_cmd)
    app.add_typer(docs_app, name="docs")
