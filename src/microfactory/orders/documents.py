"""Printable shop documents as plain data: what a traveller, a sheet of part labels, a
certificate of conformance or a packing slip says, with its Code 128 barcodes as bar patterns.
`services/documents.py` builds them; a renderer (PDF in `connect/pdf.py`, HTML in the web's
template) prints them, so both print the same facts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DocumentKind(StrEnum):
    TRAVELLER = "traveller"
    LABELS = "labels"
    CERTIFICATE = "certificate"
    PACKING_SLIP = "packing-slip"


@dataclass(frozen=True)
class Barcode:
    """A Code 128 barcode: the text and its modules ("1" a bar, "0" a space, each one
    module wide; quiet zones not included)."""

    text: str
    modules: str


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    barcodes: tuple[Barcode | None, ...] = ()
    """One per row when the table carries a barcode column (the traveller's operations)."""


@dataclass(frozen=True)
class Section:
    title: str
    table: Table | None = None
    text: str = ""


@dataclass(frozen=True)
class Label:
    barcode: Barcode
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    kind: DocumentKind
    title: str
    key: str
    """What it is of: a work order id or an order id (its file name)."""
    site: str
    barcode: Barcode | None
    fields: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...] = ()
    labels: tuple[Label, ...] = ()
    footer: str = ""

    @property
    def filename(self) -> str:
        return f"{self.kind.value}-{self.key}"
