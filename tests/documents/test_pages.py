"""Documents in the dashboard: the order page links each document; the print page shows the
same facts with its barcodes as SVG (print CSS, no navigation); the .pdf link serves the PDF;
without a session both send the browser to the login page."""

from __future__ import annotations

import pytest

from api.support import Client, Env

from .test_documents import text_of


def test_the_order_page_links_every_document(client: Client) -> None:
    page = client.get("/orders/SO-1").text
    for href in (
        "/documents/packing-slip/SO-1",
        "/documents/traveller/SO-1-1.pdf",
        "/documents/labels/SO-1-1",
        "/documents/certificate/SO-1-1",
    ):
        assert f'href="{href}"' in page, href


def test_the_print_page_shows_the_traveller_with_svg_barcodes(client: Client) -> None:
    r = client.get("/documents/traveller/SO-1-1")
    assert r.status_code == 200
    assert "Traveller SO-1-1" in r.text and "@media print" in r.text
    for code in ("SO-1-1", "SO-1-1-1", "SO-1-1-2", "SO-1-1-3"):
        assert f'aria-label="barcode {code}"' in r.text


def test_the_pdf_link_serves_the_pdf(client: Client) -> None:
    r = client.get("/documents/certificate/LOT-SO-1-1.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "PLA-B-2611" in text_of(r.content)


def test_an_unknown_document_or_key_is_an_error_page(client: Client) -> None:
    assert client.get("/documents/traveller/SO-9-9").status_code == 404
    assert client.get("/documents/invoice/SO-1").status_code == 422
    assert client.get("/documents/certificate/SO-2-1.pdf").status_code == 409


def test_documents_need_a_session(env: Env) -> None:
    r = env.client().get("/documents/traveller/SO-1-1.pdf")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("page", "kind"),
    [
        ("/orders", "orders"),
        ("/schedule", "plans"),
        ("/maintenance", "oee"),
        ("/quality", "spc"),
        ("/materials", "stock"),
    ],
)
def test_pages_link_their_exports(client: Client, page: str, kind: str) -> None:
    text = client.get(page).text
    assert f'href="/export/{kind}.csv"' in text and f'href="/export/{kind}.xlsx"' in text


def test_the_export_links_download_the_files(client: Client) -> None:
    r = client.get("/export/orders.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.text.splitlines()[1].startswith("SO-1,acme,")
    r = client.get("/export/spc.xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK"  # a zip: the xlsx container
    assert client.get("/export/secrets.csv").status_code == 422
