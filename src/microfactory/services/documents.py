"""Shop documents, printable: the traveller (job card) of a work order, its part labels, the
certificate of conformance of a finished lot and the packing slip of an order.

Each is built here, from one unit of work, as a `Document` — plain data (fields, tables,
Code 128 barcodes as bar patterns) — and rendered by an adapter: PDF (`connect/pdf.py`,
behind the `DocumentRenderer` port) or HTML with print CSS (the web's template). So the PDF
and the page print the same facts, and a scanner reads the same barcodes from both.

Times are the site's local time (`core.timeutil.local_text`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import barcode

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.core.timeutil import local_text, parse_rfc3339
from microfactory.orders import Factory, Order, WorkOrder, WorkStatus
from microfactory.orders.documents import (
    Barcode,
    Document,
    DocumentKind,
    Label,
    Section,
    Table,
)
from microfactory.services.genealogy import trace
from microfactory.services.ports import DocumentRenderer, QualityStore, UnitOfWorkFactory

MAX_LABELS = 1000
"""Labels of one work order on one print (a larger lot is labelled per pallet, not per part)."""


def code128(text: str) -> Barcode:
    """The Code 128 symbol of `text` (printable ASCII, as ids are)."""
    if not text or not all(32 <= ord(c) < 127 for c in text):
        raise ValidationError(f"a barcode holds printable ASCII only, not {text!r}")
    symbol = barcode.get_barcode_class("code128")(text, writer=None)
    return Barcode(text, "".join(symbol.build()))


def _params(values: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(dict(values).items())) or "—"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


@dataclass
class _Loaded:
    factory: Factory
    order: Order
    work_orders: list[WorkOrder] = field(default_factory=list)
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    serials: dict[str, list[str]] = field(default_factory=dict)


class DocumentService:
    """Builds documents from the store; `render` turns one into PDF bytes."""

    def __init__(
        self, uow: UnitOfWorkFactory, quality: QualityStore, renderer: DocumentRenderer
    ) -> None:
        self.uow = uow
        self.quality = quality
        self.renderer = renderer

    # -- loading ------------------------------------------------------------------------------

    def _load(self, order_id: str | None, wo_id: str | None, *, plan: bool = False) -> _Loaded:
        with self.uow() as tx:
            factory = tx.factory.current()
            if factory is None:
                raise NotFound("no factory is loaded (microfactory init FACTORY.yaml)")
            if wo_id is not None:
                wo = tx.work_orders.get(wo_id)
                order_id = wo.order
                wos = [wo]
            assert order_id is not None
            order = tx.orders.get(order_id)
            if wo_id is None:
                wos = sorted(tx.work_orders.find(order=order_id), key=lambda w: w.line_no)
            loaded = _Loaded(factory, order, wos)
            if plan:
                current = tx.plans.current_plan()
                ids = {op.id for w in wos for op in w.operations}
                if current is not None:
                    loaded.planned = {
                        str(op["operation"]): op for op in current[1] if op["operation"] in ids
                    }
            for w in wos:
                loaded.serials[w.id] = [s.serial for s in tx.trace.serials(w.id)]
        return loaded

    def _customer(self, factory: Factory, customer: str) -> str:
        found = next((c for c in factory.customers if c.id == customer), None)
        return found.name if found is not None else customer

    def _product(self, factory: Factory, product: str) -> str:
        found = factory.product_map.get(product)
        return found.name if found is not None else product

    # -- the documents ------------------------------------------------------------------------

    def traveller(self, work_order: str) -> Document:
        """The job card that travels with the parts: what to make, each operation with its
        barcode (scanned at the station), machine and planned time, the material to issue and
        the characteristics to measure, with room to sign off."""
        d = self._load(None, work_order, plan=True)
        wo, f, tz = d.work_orders[0], d.factory, d.factory.site.timezone
        product = f.product_map.get(wo.product)
        rows: list[tuple[str, ...]] = []
        codes: list[Barcode | None] = []
        for op in sorted(wo.operations, key=lambda o: o.seq):
            planned = d.planned.get(op.id, {})
            machine = op.machine or planned.get("machine") or " / ".join(op.machines) or "—"
            start = op.actual_start or planned.get("start")
            rows.append(
                (
                    str(op.seq),
                    op.id,
                    op.name,
                    str(machine),
                    local_text(start, tz),
                    f"{op.minutes:.0f} min",
                    op.status.value,
                    f"{op.good} / {op.rejected}" if op.good or op.rejected else "____ / ____",
                )
            )
            codes.append(code128(op.id))
        sections = [
            Section(
                "Operations",
                Table(
                    (
                        "#",
                        "operation",
                        "name",
                        "machine",
                        "start",
                        "time",
                        "status",
                        "good / scrap",
                    ),
                    tuple(rows),
                    tuple(codes),
                ),
            )
        ]
        if product is not None and product.bom:
            sections.append(
                Section(
                    "Material",
                    Table(
                        ("component", "per part", "for the lot", "unit", "at operation"),
                        tuple(
                            (
                                b.component_for(wo.parameters),
                                _num(b.quantity),
                                _num(b.quantity * wo.quantity),
                                b.unit,
                                "—" if b.operation is None else str(b.operation),
                            )
                            for b in product.bom
                        ),
                    ),
                )
            )
        if product is not None and product.characteristics:
            sections.append(
                Section(
                    "Measure",
                    Table(
                        ("characteristic", "nominal", "LSL", "USL", "unit", "at operation"),
                        tuple(
                            (
                                c.name,
                                _num(c.nominal),
                                _num(c.lsl),
                                _num(c.usl),
                                c.unit,
                                str(c.operation),
                            )
                            for c in product.characteristics
                        ),
                    ),
                )
            )
        if d.order.notes:
            sections.append(Section("Notes", text=d.order.notes))
        return Document(
            DocumentKind.TRAVELLER,
            f"Traveller {wo.id}",
            wo.id,
            f.site.name,
            code128(wo.id),
            (
                ("Work order", wo.id),
                ("Order", d.order.id),
                ("Customer", self._customer(f, d.order.customer)),
                ("Product", self._product(f, wo.product)),
                ("Parameters", _params(wo.parameters)),
                ("Quantity", str(wo.quantity)),
                ("Lot", wo.lot or "—"),
                ("Due", local_text(wo.due, tz)),
                ("Priority", "rush" if d.order.rush else str(d.order.priority)),
                ("Status", wo.status.value),
            ),
            tuple(sections),
            footer="Scan the operation's barcode at the station to start and finish it.",
        )

    def labels(self, work_order: str) -> Document:
        """One label per part: its serial number as a barcode where the parts have serials,
        else the part lot, with product, order and 'n of N'."""
        d = self._load(None, work_order)
        wo, f = d.work_orders[0], d.factory
        if wo.quantity > MAX_LABELS:
            raise ValidationError(
                f"{wo.id} has {wo.quantity} parts; labels print for at most {MAX_LABELS}"
            )
        serials = d.serials.get(wo.id, [])
        lot = wo.lot or wo.id
        product = self._product(f, wo.product)
        labels = []
        for n in range(1, wo.quantity + 1):
            serial = serials[n - 1] if n <= len(serials) else None
            labels.append(
                Label(
                    code128(serial or lot),
                    (
                        product,
                        f"{_params(wo.parameters)}",
                        f"lot {lot}" + (f" · serial {serial}" if serial else ""),
                        f"order {d.order.id} · part {n} of {wo.quantity}",
                    ),
                )
            )
        return Document(
            DocumentKind.LABELS,
            f"Part labels {wo.id}",
            wo.id,
            f.site.name,
            None,
            (("Work order", wo.id), ("Lot", lot), ("Parts", str(wo.quantity))),
            labels=tuple(labels),
        )

    def certificate(self, key: str) -> Document:
        """The certificate of conformance of a finished lot (a work order or its part lot):
        what was delivered, the material lots that went into it and the measurements taken
        on it against their limits. A lot still in work or on hold is not certified."""
        with self.uow() as tx:
            try:
                wo = tx.work_orders.get(key)
            except NotFound:
                ids = tx.trace.work_orders_of_lot(key)
                if not ids:
                    raise NotFound(f"{key} is neither a work order nor a part lot") from None
                wo = tx.work_orders.get(ids[0])
            genealogy = trace(tx, self.quality, wo.id)
        if wo.status != WorkStatus.DONE:
            raise Conflict(
                f"{wo.id} is {wo.status.value}; a certificate is issued for a finished lot"
            )
        lot = wo.lot or wo.id
        if lot in self.quality.held_lots():
            raise Conflict(f"lot {lot} is on hold; release it before certifying it")
        d = self._load(None, wo.id)
        f, tz = d.factory, d.factory.site.timezone
        product = f.product_map.get(wo.product)
        last = max(wo.operations, key=lambda o: o.seq, default=None)
        good = last.good if last is not None else 0
        sections = [
            Section(
                "Material lots",
                Table(
                    ("material", "lot", "quantity", "unit"),
                    tuple(
                        (m["material"], m["lot"], _num(m["quantity"]), m["unit"])
                        for m in genealogy["materials"]
                    ),
                ),
            )
        ]
        measured = genealogy["measurements"]
        by_char: dict[str, list[float]] = defaultdict(list)
        for m in measured:
            by_char[m["characteristic"]].append(float(m["value"]))
        specs = {c.name: c for c in product.characteristics} if product is not None else {}
        summary = []
        outside = 0
        for name, values in sorted(by_char.items()):
            spec = specs.get(name)
            lsl, usl = (spec.lsl, spec.usl) if spec is not None else (None, None)
            out = sum(
                1 for v in values if (lsl is not None and v < lsl) or (usl is not None and v > usl)
            )
            outside += out
            summary.append(
                (
                    name,
                    str(len(values)),
                    _num(min(values)),
                    _num(sum(values) / len(values)),
                    _num(max(values)),
                    _num(lsl),
                    _num(usl),
                    spec.unit if spec is not None else "",
                    str(out),
                )
            )
        sections.append(
            Section(
                "Measurements",
                Table(
                    ("characteristic", "n", "min", "mean", "max", "LSL", "USL", "unit", "outside"),
                    tuple(summary),
                )
                if summary
                else None,
                text="" if summary else "No measurements were recorded on this lot.",
            )
        )
        if measured:
            sections.append(
                Section(
                    "Measured values",
                    Table(
                        ("part", "characteristic", "value", "unit", "measured"),
                        tuple(
                            (
                                str(m.get("part_id") or "—"),
                                str(m["characteristic"]),
                                _num(float(m["value"])),
                                str(m.get("unit") or ""),
                                local_text(_when(m["ts"]), tz),
                            )
                            for m in measured
                        ),
                    ),
                )
            )
        ncrs = genealogy["ncrs"]
        if ncrs:
            sections.append(
                Section(
                    "Nonconformance reports",
                    Table(
                        ("NCR", "status", "disposition"),
                        tuple(
                            (str(n.get("id")), str(n.get("status")), str(n.get("disposition")))
                            for n in ncrs
                        ),
                    ),
                )
            )
        statement = (
            f"We certify that the {good} parts of lot {lot} were made and inspected to order "
            f"{d.order.id}'s specification from the material lots listed."
        )
        if outside:
            statement += (
                f" Measured values outside their limits: {outside} (their parts are "
                "dispositioned in the nonconformance reports)."
            )
        sections.append(Section("Statement", text=statement))
        ends = [o.actual_end for o in wo.operations if o.actual_end is not None]
        return Document(
            DocumentKind.CERTIFICATE,
            f"Certificate of conformance {lot}",
            wo.id,
            f.site.name,
            code128(lot),
            (
                ("Customer", self._customer(f, d.order.customer)),
                ("Order", d.order.id),
                ("Work order", wo.id),
                ("Lot", lot),
                ("Product", self._product(f, wo.product)),
                ("Parameters", _params(wo.parameters)),
                ("Quantity", str(good)),
                ("Finished", local_text(max(ends) if ends else None, tz)),
            ),
            tuple(sections),
            footer=f"Issued by {f.site.name}.",
        )

    def packing_slip(self, order_id: str) -> Document:
        """What is in the box: each line of the order with the quantity made good, its lot
        and serials."""
        d = self._load(order_id, None)
        f = d.factory
        rows = []
        for w in d.work_orders:
            if w.status == WorkStatus.CANCELLED:
                continue
            last = max(w.operations, key=lambda o: o.seq, default=None)
            made = last.good if last is not None and w.status == WorkStatus.DONE else 0
            serials = d.serials.get(w.id, [])
            rows.append(
                (
                    str(w.line_no),
                    self._product(f, w.product),
                    _params(w.parameters),
                    str(w.quantity),
                    str(made),
                    w.lot or "—",
                    ", ".join(serials[:20]) + (" …" if len(serials) > 20 else "") or "—",
                )
            )
        return Document(
            DocumentKind.PACKING_SLIP,
            f"Packing slip {d.order.id}",
            d.order.id,
            f.site.name,
            code128(d.order.id),
            (
                ("Order", d.order.id),
                ("Ship to", self._customer(f, d.order.customer)),
                ("Due", local_text(d.order.due, f.site.timezone)),
                ("Lines", str(len(rows))),
            ),
            (
                Section(
                    "Contents",
                    Table(
                        ("line", "product", "parameters", "ordered", "shipped", "lot", "serials"),
                        tuple(rows),
                    ),
                ),
            ),
            footer="Please check the contents against this slip on receipt.",
        )

    def build(self, kind: DocumentKind | str, key: str) -> Document:
        try:
            which = DocumentKind(kind)
        except ValueError:
            names = ", ".join(k.value for k in DocumentKind)
            raise ValidationError(f"unknown document {kind!r}; known: {names}") from None
        builders = {
            DocumentKind.TRAVELLER: self.traveller,
            DocumentKind.LABELS: self.labels,
            DocumentKind.CERTIFICATE: self.certificate,
            DocumentKind.PACKING_SLIP: self.packing_slip,
        }
        return builders[which](key)

    def pdf(self, kind: DocumentKind | str, key: str) -> tuple[Document, bytes]:
        document = self.build(kind, key)
        return document, self.renderer.render(document)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_rfc3339(value)
    return None
