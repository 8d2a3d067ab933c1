"""PDF renderer of shop documents (fpdf2): A4, the site's name and the document's title, its
barcode, a grid of fields, then its sections (tables wrap their cells and repeat the heading
on a new page); part labels print as a sheet of 3 × 8 labels.

Barcodes are drawn as filled rectangles, one per run of bars, with a quiet zone of ten modules
each side and the text under them, so any Code 128 scanner reads them off the page. Text uses
DejaVu Sans where it is installed (every script it covers), else the PDF core font Helvetica
(Latin-1; other characters print as '?')."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from microfactory.orders.documents import Barcode, Document, Label, Section

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
QUIET_MODULES = 10
MODULE_MM = 0.33
BAR_HEIGHT_MM = 12.0
HEADER_CODE_MM = 120.0
LABEL_COLUMNS, LABEL_ROWS = 3, 8


def _font_dir() -> Path | None:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").is_file() and (folder / "DejaVuSans-Bold.ttf").is_file():
            return folder
    return None


class PdfRenderer:
    """`DocumentRenderer` for PDF."""

    def __init__(self, font_dir: Path | None = None) -> None:
        self.font_dir = font_dir if font_dir is not None else _font_dir()

    def render(self, document: Document) -> bytes:
        pdf = _Pdf(self.font_dir, document)
        if document.labels:
            _label_sheet(pdf, document.labels)
        else:
            _page(pdf, document)
        return bytes(pdf.output())


class _Pdf(FPDF):
    def __init__(self, font_dir: Path | None, document: Document) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.document = document
        self.unicode = font_dir is not None
        if font_dir is not None:
            self.add_font("body", "", str(font_dir / "DejaVuSans.ttf"))
            self.add_font("body", "B", str(font_dir / "DejaVuSans-Bold.ttf"))
            self.family = "body"
        else:
            self.family = "helvetica"
        self.set_title(document.title)
        self.set_creator("microfactory")
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(12, 12, 12)
        self.add_page()

    def text_of(self, text: str) -> str:
        if self.unicode:
            return text
        return (
            text.replace("—", "-").replace("·", "-").encode("latin-1", "replace").decode("latin-1")
        )

    def footer(self) -> None:
        if self.document.labels:
            return  # a label sheet is cut up: no page footer over the last row
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.set_text_color(90)
        note = f"{self.document.site} · {self.document.title} · page {self.page_no()}"
        self.cell(0, 5, self.text_of(note), align="C")
        self.set_text_color(0)


def draw_barcode(
    pdf: _Pdf, code: Barcode, x: float, y: float, *, module: float, height: float
) -> float:
    """Draws the bars with their quiet zones from (x, y); returns the width used."""
    left = x + QUIET_MODULES * module
    i, modules = 0, code.modules
    pdf.set_fill_color(0)
    while i < len(modules):
        if modules[i] == "1":
            j = i
            while j < len(modules) and modules[j] == "1":
                j += 1
            pdf.rect(left + i * module, y, (j - i) * module, height, style="F")
            i = j
        else:
            i += 1
    width = (len(modules) + 2 * QUIET_MODULES) * module
    pdf.set_font(pdf.family, "", 7)
    pdf.set_xy(x, y + height + 0.5)
    pdf.cell(width, 3, pdf.text_of(code.text), align="C")
    return width


def _page(pdf: _Pdf, document: Document) -> None:
    pdf.set_font(pdf.family, "", 8)
    pdf.set_text_color(90)
    pdf.cell(0, 4, pdf.text_of(document.site), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(pdf.family, "B", 15)
    pdf.cell(0, 8, pdf.text_of(document.title), new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 1
    if document.barcode is not None:
        # under the title, at most HEADER_CODE_MM wide (long ids get narrower modules)
        modules = len(document.barcode.modules) + 2 * QUIET_MODULES
        module = min(MODULE_MM, HEADER_CODE_MM / modules)
        draw_barcode(
            pdf,
            document.barcode,
            pdf.l_margin - QUIET_MODULES * module,
            top,
            module=module,
            height=BAR_HEIGHT_MM,
        )
        top += BAR_HEIGHT_MM + 6
    pdf.set_xy(pdf.l_margin, top)
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    for n, (label, value) in enumerate(document.fields):
        x = pdf.l_margin + (n % 2) * half
        if n % 2 == 0 and n:
            pdf.ln(5)
        pdf.set_x(x)
        pdf.set_font(pdf.family, "B", 9)
        pdf.cell(26, 5, pdf.text_of(label))
        _fit_cell(pdf, pdf.text_of(value), half - 28, 9)
    pdf.ln(8)
    for section in document.sections:
        _section(pdf, section)
    if document.footer:
        pdf.ln(3)
        pdf.set_font(pdf.family, "", 8)
        pdf.multi_cell(0, 4, pdf.text_of(document.footer))


def _section(pdf: _Pdf, section: Section) -> None:
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.set_font(pdf.family, "B", 11)
    pdf.cell(0, 7, pdf.text_of(section.title), new_x="LMARGIN", new_y="NEXT")
    if section.text:
        pdf.set_font(pdf.family, "", 9)
        pdf.multi_cell(0, 4.5, pdf.text_of(section.text), new_x="LMARGIN", new_y="NEXT")
    table = section.table
    if table is not None and table.rows:
        pdf.set_font(pdf.family, "", 8)
        with pdf.table(
            col_widths=_column_widths(table.columns, table.rows),
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
            line_height=4.5,
            padding=0.8,
            first_row_as_headings=True,
            repeat_headings=1,
        ) as grid:
            grid.row([pdf.text_of(c) for c in table.columns])
            for row in table.rows:
                grid.row([pdf.text_of(c) for c in row])
        codes = [c for c in table.barcodes if c is not None]
        if codes:
            _barcode_grid(pdf, codes)
    pdf.ln(3)


def _fit_cell(pdf: _Pdf, text: str, width: float, size: float) -> None:
    """One line of `width` mm: the font shrinks (to 6 pt) before the text is cut with '…'."""
    while size > 6:
        pdf.set_font(pdf.family, "", size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 0.5
    pdf.set_font(pdf.family, "", size)
    while len(text) > 1 and pdf.get_string_width(text) > width:
        text = text[:-2] + "…" if pdf.unicode else text[:-4] + "..."
    pdf.cell(width, 5, text)
    pdf.set_font(pdf.family, "", 9)


def _column_widths(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> tuple[int, ...]:
    """Relative widths from the longest text of each column (a heading counts too), kept
    between 4 and 30 characters, so short numbers do not take the room of long ids."""
    return tuple(
        min(30, max(4, len(name) + 1, *(len(r[i]) + 1 for r in rows if i < len(r))))
        for i, name in enumerate(columns)
    )


def _barcode_grid(pdf: _Pdf, codes: list[Barcode]) -> None:
    """The rows' barcodes, two to a line, each under its text: scanned at the station."""
    pdf.ln(2)
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    height = 10.0
    for n, code in enumerate(codes):
        if n % 2 == 0:
            if pdf.get_y() + height + 8 > pdf.h - pdf.b_margin:
                pdf.add_page()
            y = pdf.get_y()
        module = min(MODULE_MM, (half - 4) / (len(code.modules) + 2 * QUIET_MODULES))
        draw_barcode(pdf, code, pdf.l_margin + (n % 2) * half, y, module=module, height=height)
        if n % 2 == 1 or n == len(codes) - 1:
            pdf.set_xy(pdf.l_margin, y + height + 6)


def _label_sheet(pdf: _Pdf, labels: tuple[Label, ...]) -> None:
    pdf.set_auto_page_break(auto=False)
    width = (pdf.w - 2 * 8) / LABEL_COLUMNS
    height = (pdf.h - 2 * 10) / LABEL_ROWS
    per_page = LABEL_COLUMNS * LABEL_ROWS
    for n, label in enumerate(labels):
        if n and n % per_page == 0:
            pdf.add_page()
        slot = n % per_page
        x = 8 + (slot % LABEL_COLUMNS) * width
        y = 10 + (slot // LABEL_COLUMNS) * height
        pdf.set_draw_color(200)
        pdf.rect(x + 1, y + 1, width - 2, height - 2)
        module = min(0.3, (width - 6) / (len(label.barcode.modules) + 2 * QUIET_MODULES))
        draw_barcode(pdf, label.barcode, x + 3, y + 3, module=module, height=12)
        pdf.set_font(pdf.family, "", 7)
        for i, line in enumerate(label.lines):
            pdf.set_xy(x + 3, y + 19.5 + i * 3.2)
            pdf.cell(width - 6, 3.2, pdf.text_of(line)[:48])
