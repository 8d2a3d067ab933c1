"""Use cases: quote a customer's 3D model against the current factory, promise a date from
the live plan (capable-to-promise), hold that capacity, accept the quote as an order, expire
it, and track the order by its unguessable token.

Intake and pricing come from the pure `microfactory.quoting` engine. The date comes from the
capable-to-promise insertion into the current plan when a plan source is given, else from the
lead-time rule; `promise_basis` always says which. Nothing is stored for a refused file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, InfeasibleError, NotFound, ValidationError
from microfactory.core.ids import new_token, next_serial_id
from microfactory.core.timeutil import to_rfc3339
from microfactory.orders import Factory, OrderLine, Product
from microfactory.orders.stock import MaterialEstimate
from microfactory.quoting.ctp import Slot, Step, promise
from microfactory.quoting.engine import ModelQuote, QuoteOptions, quote_model
from microfactory.quoting.factory_inputs import printing_inputs
from microfactory.quoting.intake import IntakeLimits, LoadedModel, load_model, load_model_bytes
from microfactory.quoting.leadtime import LeadTimeRule, promise_date
from microfactory.quoting.pricing import PricingPolicy
from microfactory.quoting.processes import Process
from microfactory.services.capacity import quote_bottleneck_warning
from microfactory.services.factory import current_factory
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.planning import PlanVersion
from microfactory.services.ports import (
    MaterialAvailability,
    ModelStore,
    QuoteStore,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuoteResponse:
    """A priced, dated quote (not stored)."""

    quote: ModelQuote
    promised_date: datetime
    promise_basis: str
    quoted_at: datetime
    quote_id: str | None = None
    expires_at: datetime | None = None
    reservations: tuple[Slot, ...] = ()
    earliest_completion: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (CLI `quote --json`, API)."""
        q = self.quote
        return {
            "model": q.model,
            "volume_mm3": round(q.volume_mm3, 2),
            "surface_mm2": round(q.surface_mm2, 2),
            "bbox_mm": [round(v, 3) for v in q.bbox_mm],
            "mass_g": round(q.mass_g, 3),
            "mass_g_total": round(q.mass_g_total, 3),
            "machine_hours": round(q.machine_hours, 4),
            "price": q.price.total,
            "unit_price": q.price.unit_price,
            "currency": q.price.currency,
            "promised_date": to_rfc3339(self.promised_date),
            "promise_basis": self.promise_basis,
            "process": q.process.value,
            "machine": q.machine_id,
            "material": q.material_id,
            "quantity": q.quantity,
            "orientation": q.orientation,
            "oriented_bbox_mm": [round(v, 3) for v in q.oriented_bbox_mm],
            "support_volume_mm3": round(q.support_volume_mm3, 1),
            "layers": q.layers,
            "print_hours_per_part": round(q.print_hours_per_part, 4),
            "parts_per_plate": q.parts_per_plate,
            "plates": q.plates,
            "price_breakdown": {
                "machine": q.price.machine_cost,
                "material": q.price.material_cost,
                "setup": q.price.setup_cost,
                "finishing": q.price.finishing_cost,
                "finishing_steps": list(q.price.finishing_steps),
                "cost": q.price.cost,
                "margin": q.price.margin,
                "discount": q.price.discount,
            },
            "eligible_machines": list(q.eligible_machines),
            "quoted_at": to_rfc3339(self.quoted_at),
            "quote_id": self.quote_id,
            "expires_at": None if self.expires_at is None else to_rfc3339(self.expires_at),
            "earliest_completion": (
                None if self.earliest_completion is None else to_rfc3339(self.earliest_completion)
            ),
            "reservations": [
                {
                    "step": r.step,
                    "machine": r.machine,
                    "start": to_rfc3339(r.start),
                    "end": to_rfc3339(r.end),
                }
                for r in self.reservations
            ],
            "warnings": list(q.warnings),
        }


def _respond(
    factory: Factory,
    loaded: LoadedModel,
    material: str,
    quantity: int,
    clock: Clock,
    options: QuoteOptions | None,
    rule: LeadTimeRule | None,
) -> QuoteResponse:
    inputs = printing_inputs(factory)
    if options is None:
        options = QuoteOptions(pricing=PricingPolicy(currency=inputs.currency))
    quote = quote_model(
        loaded,
        material=material,
        quantity=quantity,
        machines=inputs.machines,
        materials=inputs.materials,
        options=options,
    )
    rule = rule or LeadTimeRule()
    now = clock.now()
    count = len(quote.eligible_machines)
    return QuoteResponse(
        quote=quote,
        promised_date=promise_date(now, quote.machine_hours, count, rule),
        promise_basis=rule.describe(count),
        quoted_at=now,
    )


def quote_file(
    factory: Factory,
    path: str | Path,
    *,
    material: str,
    quantity: int,
    clock: Clock,
    limits: IntakeLimits | None = None,
    units: str | None = None,
    options: QuoteOptions | None = None,
    rule: LeadTimeRule | None = None,
) -> QuoteResponse:
    """Quote the model file at `path`. Raises ValidationError for a refused file or model."""
    loaded = load_model(path, limits=limits, units=units)
    return _respond(factory, loaded, material, quantity, clock, options, rule)


def quote_upload(
    factory: Factory,
    data: bytes,
    filename: str,
    *,
    material: str,
    quantity: int,
    clock: Clock,
    limits: IntakeLimits | None = None,
    units: str | None = None,
    options: QuoteOptions | None = None,
    rule: LeadTimeRule | None = None,
) -> QuoteResponse:
    """Quote an uploaded model held in memory (the API's multipart upload)."""
    loaded = load_model_bytes(data, filename, limits=limits, units=units)
    return _respond(factory, loaded, material, quantity, clock, options, rule)


# --- capable-to-promise, holds, acceptance, tracking -----------------------------------------


HOLD_REASON = "quote hold"
RESERVING = ("held", "sent")
"""Quote states that reserve capacity until expiry (the stores use the same two)."""


class HeldQuotes:
    """The planner's view of held quotes (`planning.CapacityHolds`): the capacity they
    reserve stays free in every plan, whoever asks for it, until they expire or are
    accepted."""

    def __init__(self, store: QuoteStore) -> None:
        self.store = store

    def held_intervals(self, now: datetime) -> dict[str, list[tuple[datetime, datetime, str]]]:
        held: dict[str, list[tuple[datetime, datetime, str]]] = {}
        for r in self.store.held_reservations(now):
            held.setdefault(r["machine"], []).append((r["start"], r["end"], HOLD_REASON))
        return held


class PlanSource(Protocol):
    """What capable-to-promise needs of the planning service (which keeps held quotes'
    capacity free itself, through `HeldQuotes`). `downtimes` are the machines' stored
    breakdowns and maintenance windows."""

    def downtimes(
        self, since: datetime | None = None
    ) -> dict[str, list[tuple[datetime, datetime, str]]]: ...

    def current(self) -> PlanVersion | None: ...

    def plan(self, reason: str = "plan", *, release_confirmed: bool = True) -> PlanVersion: ...


@dataclass(frozen=True)
class QuotingSettings:
    hold_hours: float = 48.0
    horizon_days: int = 60
    limits: IntakeLimits = field(default_factory=IntakeLimits)
    print_capability: Mapping[Process, str] = field(
        default_factory=lambda: {Process.FDM: "fdm_print", Process.RESIN: "resin_print"}
    )
    product_for_process: Mapping[Process, str] = field(default_factory=dict)
    """Catalog product an accepted quote becomes; default: the product with the fewest
    operations whose routing starts with the process's print capability."""

    def __post_init__(self) -> None:
        if self.hold_hours <= 0 or self.horizon_days < 1:
            raise ValueError("hold_hours must be positive and horizon_days at least 1")


@dataclass(frozen=True)
class AcceptedQuote:
    quote_id: str
    order_id: str
    tracking_token: str
    promised_date: datetime
    planned_completion: datetime | None
    plan_version: int | None
    late_work_orders: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "quote_id": self.quote_id,
            "order_id": self.order_id,
            "tracking_token": self.tracking_token,
            "promised_date": to_rfc3339(self.promised_date),
            "planned_completion": (
                None if self.planned_completion is None else to_rfc3339(self.planned_completion)
            ),
            "plan_version": self.plan_version,
            "late_work_orders": list(self.late_work_orders),
        }


PUBLIC_STATUS: dict[str, str] = {
    "quoted": "quote prepared",
    "confirmed": "order confirmed",
    "released": "scheduled for production",
    "in_production": "in production",
    "done": "finished",
    "cancelled": "cancelled",
}
"""What the public tracking timeline says for each order status."""


@dataclass(frozen=True)
class TrackingView:
    """What the customer's tracking page shows: no prices, no customer id, no internals (the
    timeline's notes are fixed public texts: the stored notes name staff and quotes)."""

    order_id: str
    status: str
    promised_date: datetime
    created: datetime
    lines: tuple[tuple[str, int], ...]
    timeline: tuple[tuple[str, datetime, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "status": self.status,
            "promised_date": to_rfc3339(self.promised_date),
            "created": to_rfc3339(self.created),
            "lines": [{"product": p, "quantity": q} for p, q in self.lines],
            "timeline": [
                {"status": st, "at": to_rfc3339(at), "note": note} for st, at, note in self.timeline
            ],
        }


@dataclass
class QuoteService:
    """Quotes with capacity-aware dates. `plans` is the planning service (anything with
    `current()` and `plan()`); without it dates come from the lead-time rule. With `models`,
    a held quote keeps its model (as intake validated it, binary STL in millimetres) so that
    the print farm can slice and print it once accepted."""

    uow: UnitOfWorkFactory
    store: QuoteStore
    clock: Clock
    plans: PlanSource | None = None
    settings: QuotingSettings = field(default_factory=QuotingSettings)
    options: QuoteOptions | None = None
    rule: LeadTimeRule = field(default_factory=LeadTimeRule)
    models: ModelStore | None = None
    materials: MaterialAvailability | None = None
    """When the quote's material is there (on hand, due, or after a purchase): the print
    starts no earlier."""
    on_sent: Callable[[str], object] | None = None
    """Told the id of each quote just sent (the composition root wires the notifications
    outbox here when e-mail is configured, so the customer's "your quote" mail is queued)."""
    sent_notices_failed: int = 0
    """How many `on_sent` calls failed (each logged; notifications' collect catches up)."""

    def quote_file(
        self,
        path: str | Path,
        *,
        material: str,
        quantity: int,
        customer: str | None = None,
        units: str | None = None,
        hold: bool = True,
    ) -> QuoteResponse:
        """Quote the model at `path`; with `hold`, store it and reserve its capacity."""
        loaded = load_model(path, limits=self.settings.limits, units=units)
        return self._quote(loaded, material, quantity, customer, hold)

    def quote_upload(
        self,
        data: bytes,
        filename: str,
        *,
        material: str,
        quantity: int,
        customer: str | None = None,
        units: str | None = None,
        hold: bool = True,
        product: str | None = None,
    ) -> QuoteResponse:
        """Quote an uploaded model; with `hold`, store it and reserve its capacity. `product`
        names the catalog product the accepted order becomes (its routing must start with
        the print capability of the material's process); default: `settings`' choice."""
        loaded = load_model_bytes(data, filename, limits=self.settings.limits, units=units)
        return self._quote(loaded, material, quantity, customer, hold, product)

    def get(self, quote_id: str) -> dict[str, Any]:
        """The stored quote (its public payload plus state); NotFound when unknown."""
        row = self.store.get(quote_id)
        now = self.clock.now()
        status = row["status"]
        if status in RESERVING and row["expires_at"] <= now:
            status = "expired"
        return {
            **row["payload"],
            "status": status,
            "order_id": row["order_id"],
            "customer": row["customer"],
        }

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest quotes first (id, state, customer, model, price, date), a quote past
        its expiry shown as expired."""
        now = self.clock.now()
        out = []
        for row in self.store.recent(limit):
            status = row["status"]
            if status in RESERVING and row["expires_at"] <= now:
                status = "expired"
            out.append({k: v for k, v in row.items() if k != "payload"} | {"status": status})
        return out

    def send(self, quote_id: str) -> dict[str, Any]:
        """Mark a held quote as sent to its customer (it keeps its reservation until it
        expires). Conflict unless the quote is held and not expired; it needs a customer."""
        row = self.store.get(quote_id)
        now = self.clock.now()
        if row["status"] == "sent":
            raise Conflict(f"quote {quote_id} was already sent")
        if row["status"] != "held" or row["expires_at"] <= now:
            state = "expired" if row["status"] == "held" else row["status"]
            raise Conflict(f"quote {quote_id} is {state}; only a held quote can be sent")
        if not row["customer"]:
            raise ValidationError(
                f"quote {quote_id} names no customer to send it to; quote again with one",
                where="customer",
            )
        self.store.set_status(quote_id, "sent")
        if self.on_sent is not None:
            try:
                self.on_sent(quote_id)
            except Exception:  # the quote is sent; the notice's safety net is collect()
                self.sent_notices_failed += 1
                log.exception("queueing the quote-sent notice of %s failed", quote_id)
        return self.get(quote_id)

    def expire(self) -> list[str]:
        """Mark held quotes past their expiry as expired and release their capacity."""
        expired = self.store.expired_ids(self.clock.now())
        for quote_id in expired:
            self.store.set_status(quote_id, "expired")
        return expired

    def accept(self, quote_id: str, *, customer: str | None = None) -> AcceptedQuote:
        """Turn a held quote into a confirmed, released order, release its reservation and
        replan. Conflict when the quote expired or was already accepted."""
        now = self.clock.now()
        row = self.store.get(quote_id)
        if row["status"] == "accepted":
            raise Conflict(f"quote {quote_id} was already accepted as order {row['order_id']}")
        if row["status"] not in RESERVING or row["expires_at"] <= now:
            if row["status"] in RESERVING:
                self.store.set_status(quote_id, "expired")
            raise Conflict(
                f"quote {quote_id} expired at {to_rfc3339(row['expires_at'])}; ask for a new quote"
            )
        who = customer or row["customer"]
        if not who:
            raise ValidationError("a customer is needed to accept a quote", where="customer")
        process = Process(row["process"])
        payload = row["payload"]
        token = new_token()
        with self.uow() as tx:
            factory = current_factory(tx)
            product = self._product(factory, process, payload.get("product"))
            line = OrderLine(
                product.id,
                row["quantity"],
                {},
                model_ref=quote_id,
                unit_price=float(payload["unit_price"]),
            )
            due = max(row["promised_date"], now + timedelta(hours=1))
            request = OrderRequest(
                customer=who,
                lines=(line,),
                due=due,
                notes=f"quote {quote_id}: {row['model']} in {row['material']}",
            )
            order = place_order(tx, request, now, note=f"accepted quote {quote_id}")
            tx.orders.set_tracking_token(order.id, token)
            print_cap = self.settings.print_capability[process]
            minutes = float(math.ceil(float(row["machine_hours"]) * 60.0))
            grams = float(payload.get("mass_g") or 0.0)
            stocked = row["material"] in factory.material_map and grams > 0
            for wo in release_order(tx, order.id, now):
                for op in wo.operations:
                    if op.capability == print_cap:
                        tx.work_orders.update_operation(replace(op, minutes=max(minutes, 1.0)))
                        if stocked:  # the quote's grams replace the carrier product's BOM
                            tx.stock.set_estimate(
                                wo.id, MaterialEstimate(op.id, row["material"], grams, "g")
                            )
            tx.commit()
        self.store.set_status(quote_id, "accepted", order.id)
        version: PlanVersion | None = None
        if self.plans is not None:
            version = self.plans.plan(
                reason=f"quote {quote_id} accepted as {order.id}", release_confirmed=False
            )
        completion = None
        if version is not None:
            ends = [op.end for op in version.operations if op.work_order.startswith(order.id)]
            completion = max(ends) if ends else None
        return AcceptedQuote(
            quote_id=quote_id,
            order_id=order.id,
            tracking_token=token,
            promised_date=row["promised_date"],
            planned_completion=completion,
            plan_version=None if version is None else version.version,
            late_work_orders=() if version is None else tuple(version.late_work_orders),
        )

    def track(self, token: str) -> TrackingView:
        """The order behind a tracking link (NotFound for an unknown token)."""
        with self.uow() as tx:
            order = tx.orders.by_tracking_token(token)
            timeline = tx.orders.timeline(order.id)
        return TrackingView(
            order_id=order.id,
            status=str(order.status),
            promised_date=order.due,
            created=order.created,
            lines=tuple((line.product, line.quantity) for line in order.lines),
            timeline=tuple(
                (str(st), at, PUBLIC_STATUS.get(str(st), str(st))) for st, at, _ in timeline
            ),
        )

    # -- internals --

    def _quote_taken(self, quote_id: str) -> bool:
        try:
            self.store.get(quote_id)
        except NotFound:
            return False
        return True

    def _quote(
        self,
        loaded: LoadedModel,
        material: str,
        quantity: int,
        customer: str | None,
        hold: bool,
        product: str | None = None,
    ) -> QuoteResponse:
        with self.uow() as tx:
            factory = current_factory(tx)
        base = _respond(factory, loaded, material, quantity, self.clock, self.options, self.rule)
        if product is not None:
            self._product(factory, base.quote.process, product)  # refused before anything
        response = base if self.plans is None else self._promise(factory, base, product)
        if not hold:
            return response
        quote_id = next_serial_id("Q", self._quote_taken)
        expires = response.quoted_at + timedelta(hours=self.settings.hold_hours)
        response = replace(response, quote_id=quote_id, expires_at=expires)
        q = response.quote
        self.store.add(
            {
                "id": quote_id,
                "created_at": response.quoted_at,
                "expires_at": expires,
                "status": "held",
                "customer": customer,
                "model": q.model[:200],
                "material": q.material_id,
                "quantity": q.quantity,
                "process": q.process.value,
                "machine": q.machine_id,
                "price": q.price.total,
                "currency": q.price.currency,
                "promised_date": response.promised_date,
                "machine_hours": q.machine_hours,
                "order_id": None,
                "payload": response.to_dict() | ({"product": product} if product else {}),
            },
            [
                {"step": r.step, "machine": r.machine, "start": r.start, "end": r.end}
                for r in response.reservations
            ],
        )
        if self.models is not None:
            stem = Path(q.model).stem or "model"
            # the upload itself when intake changed nothing, else the validated mesh
            stl = loaded.stl if loaded.stl is not None else loaded.mesh.to_stl()
            self.models.put(quote_id, f"{stem}.stl", stl)
        return response

    def _promise(
        self, factory: Factory, base: QuoteResponse, product: str | None = None
    ) -> QuoteResponse:
        assert self.plans is not None
        # the planner works in whole minutes: start on the next minute, whole-minute steps
        now = base.quoted_at.replace(second=0, microsecond=0)
        if now < base.quoted_at:
            now += timedelta(minutes=1)
        material_note = ""
        start = now
        if self.materials is not None:
            q = base.quote
            ready, material_note = self.materials.ready_for(q.material_id, q.mass_g_total, "g", now)
            if ready > now:
                start = ready.replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = start + timedelta(days=self.settings.horizon_days)
        plan = self.plans.current()
        held = self.store.held_reservations(now)
        busy: dict[str, list[tuple[datetime, datetime]]] = {}
        if plan is not None:
            for op in plan.operations:
                if op.end > now:
                    busy.setdefault(op.machine, []).append((op.start, op.end))
        for r in held:
            busy.setdefault(r["machine"], []).append((r["start"], r["end"]))
        for machine, spans in self.plans.downtimes(since=now).items():
            busy.setdefault(machine, []).extend((start, end) for start, end, _ in spans)
        steps = self._steps(factory, base.quote, product)
        working = {
            m.id: [(w.start, w.end) for w in m.calendar.working_windows(now, horizon)]
            for m in factory.machines
            if not m.calendar.always_on or m.calendar.unavailable
        }
        try:
            result = promise(steps, now=start, busy=busy, working=working, horizon=horizon)
        except InfeasibleError as exc:
            warning = f"capable-to-promise found no capacity ({exc}); lead-time rule used"
            quote = replace(base.quote, warnings=(*base.quote.warnings, warning))
            return replace(base, quote=quote)
        basis = (
            f"capable-to-promise on plan version {plan.version} ({len(plan.operations)} planned "
            f"operations, {len(held)} held reservations); nothing planned was moved"
            if plan is not None
            else f"capable-to-promise on an empty plan (no plan stored yet; {len(held)} held "
            "reservations)"
        )
        if material_note:
            basis += f"; material: {material_note}"
        booked: dict[str, datetime] = {}
        for op in plan.operations if plan is not None else ():
            booked[op.machine] = max(booked.get(op.machine, op.end), op.end)
        note = quote_bottleneck_warning(factory, result.slots, start, booked)
        if note is not None:
            base = replace(base, quote=replace(base.quote, warnings=(*base.quote.warnings, note)))
        return replace(
            base,
            promised_date=result.completion,
            promise_basis=basis,
            reservations=result.slots,
            earliest_completion=result.completion,
        )

    def _steps(
        self, factory: Factory, quote: ModelQuote, product_id: str | None = None
    ) -> list[Step]:
        """The routing the accepted order will get: the carrier product's operations, with
        the print operation replaced by the quote's print time on the machines that fit."""
        print_cap = self.settings.print_capability[quote.process]
        # one operation on one printer, as the accepted work order will be planned (the
        # planner does not split an operation across machines)
        speed = {m.id: m.speed_factor for m in factory.machines}
        printing = Step(
            f"print ({quote.process.value})",
            quote.eligible_machines,
            max(math.ceil(quote.machine_hours * 60.0), 1),
            speed=speed,
        )
        try:
            product = self._product(factory, quote.process, product_id)
        except ValidationError:
            return [printing]
        steps: list[Step] = []
        for op in product.routing:
            if op.capability == print_cap:
                steps.append(printing)
                continue
            machines = tuple(m.id for m in factory.eligible_machines(op.capability, op.machines))
            if machines:
                minutes = max(op.minutes(quote.quantity), 1.0)
                steps.append(Step(op.name, machines, minutes, speed=speed))
        return steps if printing in steps else [printing, *steps]

    def _product(self, factory: Factory, process: Process, chosen: str | None = None) -> Product:
        cap = self.settings.print_capability[process]
        if chosen is not None:
            found = factory.product_map.get(chosen)
            if found is None:
                raise ValidationError(
                    f"product {chosen!r} is not in the factory catalog", where="product"
                )
            if not found.routing or found.routing[0].capability != cap:
                raise ValidationError(
                    f"product {chosen!r} does not start with {cap!r}, the {process.value} "
                    "print this material needs",
                    where="product",
                )
            return found
        wanted = self.settings.product_for_process.get(process)
        if wanted is not None:
            product = factory.product_map.get(wanted)
            if product is None:
                raise ValidationError(f"product {wanted!r} is not in the factory catalog")
            return product
        fits = [p for p in factory.products if p.routing and p.routing[0].capability == cap]
        if not fits:
            raise ValidationError(
                f"the factory catalog has no product whose routing starts with {cap!r} to carry "
                "an accepted quote"
            )
        return min(fits, key=lambda p: (len(p.routing), p.id))
