"""Printable documents in the dashboard: `/documents/{kind}/{key}` shows a traveller, part
labels, a certificate of conformance or a packing slip as a page made for printing (print CSS,
barcodes as SVG), `/documents/{kind}/{key}.pdf` downloads the same document as PDF. Linked
from the order page (packing slip; per work order: traveller, labels, certificate)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from microfactory.api.context import ApiContext
from microfactory.api.deps import context
from microfactory.core.errors import NotFound
from microfactory.orders.documents import Barcode
from microfactory.services.documents import DocumentService
from microfactory.web.pages import TEMPLATES, PageUser

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
QUIET = 10


def bars(code: Barcode) -> list[tuple[int, int]]:
    """(x, width) in modules of each bar, after the quiet zone: the SVG's rectangles."""
    out: list[tuple[int, int]] = []
    i, modules = 0, code.modules
    while i < len(modules):
        if modules[i] == "1":
            j = i
            while j < len(modules) and modules[j] == "1":
                j += 1
            out.append((QUIET + i, j - i))
            i = j
        else:
            i += 1
    return out


TEMPLATES.env.globals["barcode_bars"] = bars
TEMPLATES.env.globals["barcode_width"] = lambda code: len(code.modules) + 2 * QUIET


def _service(ctx: ApiContext) -> DocumentService:
    if ctx.documents is None:
        raise NotFound("documents are not available on this server")
    return ctx.documents


@router.get("/documents/{kind}/{key}.pdf")
async def document_pdf(kind: str, key: str, user: PageUser, ctx: Ctx) -> Response:
    document, pdf = await run_in_threadpool(_service(ctx).pdf, kind, key)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{document.filename}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/documents/{kind}/{key}")
async def document_page(
    kind: str, key: str, request: Request, user: PageUser, ctx: Ctx
) -> HTMLResponse:
    document = await run_in_threadpool(_service(ctx).build, kind, key)
    return TEMPLATES.TemplateResponse(
        request,
        "document.html",
        {"user": user, "csrf": "", "nav": [], "path": request.url.path, "doc": document},
    )
