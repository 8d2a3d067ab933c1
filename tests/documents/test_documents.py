"""Printed documents as a reader checks them: the PDF's text (extracted with pypdf) says what
the traveller, labels, certificate and packing slip must say, in the site's local time, and
every barcode is read back off the rendered page by an independent decoder (PDFium renders
the page, zxing-cpp reads the Code 128 symbols): the work order, each operation, the lot."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
import zxingcpp
from pypdf import PdfReader

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.services.documents import code128

from .conftest import Shop


def text_of(pdf: bytes) -> str:
    """The text of every page, runs of white space (line breaks) as one space."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def barcodes_of(pdf: bytes, page: int = 0) -> list[str]:
    image = pdfium.PdfDocument(pdf)[page].render(scale=300 / 72).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert all(b.format == zxingcpp.BarcodeFormat.Code128 for b in found)
    return [b.text for b in found]


def test_the_traveller_names_the_work_and_its_barcodes_scan_back(shop: Shop) -> None:
    _, pdf = shop.container.documents().pdf("traveller", "SO-1-1")
    text = text_of(pdf)
    for expected in (
        "Traveller SO-1-1",
        "ACME Robotics",
        "Custom FDM bracket",
        "colour=black",
        "LOT-SO-1-1",
        "pla-black",  # the BOM's component for the ordered colour, not its template
        "0.45",  # 10 parts × 45 g
        "hole_pitch",
        "2026-03-07 09:00 CET",  # due, in the site's zone (Europe/Berlin)
    ):
        assert expected in text, expected
    assert sorted(barcodes_of(pdf)) == ["SO-1-1", "SO-1-1-1", "SO-1-1-2", "SO-1-1-3"]


def test_an_open_work_order_gets_a_traveller_with_blanks_to_fill(shop: Shop) -> None:
    _, pdf = shop.container.documents().pdf("traveller", "SO-2-1")
    text = text_of(pdf)
    assert "pla-white" in text and "____ / ____" in text
    assert "SO-2-1-1" in barcodes_of(pdf)


def test_labels_one_per_part_with_the_lot_barcode(shop: Shop) -> None:
    document, pdf = shop.container.documents().pdf("labels", "SO-1-1")
    assert len(document.labels) == 10
    text = text_of(pdf)
    assert "part 1 of 10" in text and "part 10 of 10" in text
    assert barcodes_of(pdf) == ["LOT-SO-1-1"] * 10


def test_the_certificate_lists_material_lots_and_measurements(shop: Shop) -> None:
    for key in ("LOT-SO-1-1", "SO-1-1"):  # by lot or by work order
        _, pdf = shop.container.documents().pdf("certificate", key)
        text = text_of(pdf)
        assert "Certificate of conformance LOT-SO-1-1" in text
        assert "PLA-B-2611" in text  # the spool the reactor issued from
        assert "40.31" in text and "39.98" in text  # each measured value
        assert "outside their limits: 1" in text  # 40.31 > USL 40.2
        assert "the 9 parts" in text  # 9 good of 10
        assert barcodes_of(pdf) == ["LOT-SO-1-1"]


def test_no_certificate_for_an_unfinished_or_unknown_lot(shop: Shop) -> None:
    docs = shop.container.documents()
    with pytest.raises(Conflict, match="finished lot"):
        docs.pdf("certificate", "SO-2-1")
    with pytest.raises(NotFound, match="NOPE"):
        docs.pdf("certificate", "NOPE")


def test_no_certificate_for_a_held_lot(shop: Shop) -> None:
    from datetime import UTC, datetime

    shop.container.quality_store().add_hold(
        {
            "lot": "LOT-SO-1-1",
            "reason": "pitch drift",
            "held_at": datetime(2026, 3, 3, tzinfo=UTC),
        }
    )
    with pytest.raises(Conflict, match="on hold"):
        shop.container.documents().pdf("certificate", "LOT-SO-1-1")


def test_the_packing_slip_lists_each_line(shop: Shop) -> None:
    _, pdf = shop.container.documents().pdf("packing-slip", "SO-1")
    text = text_of(pdf)
    assert "Packing slip SO-1" in text and "ACME Robotics" in text
    assert "LOT-SO-1-1" in text
    assert barcodes_of(pdf) == ["SO-1"]


@pytest.mark.parametrize(
    ("kind", "key", "error"),
    [
        ("traveller", "SO-9-1", NotFound),  # no such work order
        ("packing-slip", "SO-9", NotFound),  # no such order
        ("invoice", "SO-1", ValidationError),  # not a document we print
    ],
)
def test_bad_requests_are_refused(shop: Shop, kind: str, key: str, error: type) -> None:
    with pytest.raises(error):
        shop.container.documents().pdf(kind, key)


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing to encode
        "SO-1\n",  # a control character
        "Größe",  # not ASCII
    ],
)
def test_a_barcode_holds_printable_ascii_only(text: str) -> None:
    with pytest.raises(ValidationError):
        code128(text)
