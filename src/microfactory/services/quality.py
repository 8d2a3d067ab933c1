"""Quality use cases: record a measurement and evaluate it on arrival (SPC rules and the
specification), nonconformance reports with disposition and CAPA, lot holds and releases.
Genealogy traces are `services.genealogy`.

On arrival (:func:`record_measurement`):

* a value outside the characteristic's specification raises an ``out_of_spec`` alert, opens
  an NCR and puts the part's lot on hold;
* each completed subgroup is charted (I-MR for subgroup size 1, X̄-R otherwise) against
  limits frozen after Phase I, and every selected rule completed by the newest point raises a
  ``rule_violation`` alert (holding the lot too when ``hold_on_violation`` is set);
* a replayed event (same ``event_id``) changes nothing.

The planning service and the dispatcher ask :func:`held_lots` / :func:`is_work_order_held`
which lots must not run further operations; :func:`release_lot` refuses while an NCR on the
lot is still open.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any, Protocol, TypeVar

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.core.ids import next_serial_id
from microfactory.orders import Factory, WorkOrder
from microfactory.orders.products import Characteristic, Product
from microfactory.quality.capability import CapabilityResult, process_capability
from microfactory.quality.chart_model import ChartResult, ProcessEstimate
from microfactory.quality.charts import control_chart
from microfactory.quality.monitoring import (
    chart_type_for,
    check_latest,
    out_of_spec,
    values_needed,
)
from microfactory.quality.records import (
    AlertKind,
    Disposition,
    LotHold,
    MeasurementRecord,
    NcrStatus,
    Nonconformance,
    QualityAlert,
)
from microfactory.quality.rules import select_rules
from microfactory.services.ports import QualityStore, UnitOfWork
from microfactory.services.reactor import Applied, EventRejected
from microfactory.shopfloor.events import Measurement
from microfactory.shopfloor.records import StoredEvent

Row = dict[str, Any]


class ReplanRequester(Protocol):
    def request(self, at: datetime, trigger: str, reason: str = "") -> None: ...


# -- conversions ------------------------------------------------------------------------------


def _enum_values(row: Row) -> Row:
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in row.items()}


def alert_row(alert: QualityAlert) -> Row:
    return _enum_values(asdict(alert))


def alert_from_row(row: Mapping[str, Any]) -> QualityAlert:
    data = dict(row)
    data["kind"] = AlertKind(data["kind"])
    return QualityAlert(**data)


def ncr_row(ncr: Nonconformance) -> Row:
    return _enum_values(asdict(ncr))


def ncr_from_row(row: Mapping[str, Any]) -> Nonconformance:
    data = dict(row)
    data["status"] = NcrStatus(data["status"])
    data["disposition"] = Disposition(data["disposition"]) if data["disposition"] else None
    return Nonconformance(**data)


def hold_from_row(row: Mapping[str, Any]) -> LotHold:
    return LotHold(**{k: v for k, v in row.items() if k != "id"})


# -- characteristics --------------------------------------------------------------------------


def find_characteristic(
    factory: Factory, characteristic: str, product: str | None = None
) -> tuple[Product, Characteristic]:
    """The product characteristic named `characteristic` (of `product`, when given)."""
    found = [
        (p, c)
        for p in factory.products
        if product is None or p.id == product
        for c in p.characteristics
        if c.name == characteristic
    ]
    if not found:
        where = f" of product {product}" if product else ""
        raise NotFound(f"no characteristic {characteristic!r}{where} in the factory")
    if len(found) > 1:
        names = ", ".join(p.id for p, _ in found)
        raise ValidationError(
            f"characteristic {characteristic!r} exists on several products ({names}); "
            "say which product"
        )
    return found[0]


# -- recording and evaluation -----------------------------------------------------------------


def record_measurement(
    store: QualityStore,
    factory: Factory,
    measurement: Measurement,
    *,
    product: str | None = None,
    rules: str | Iterable[str] = "nelson",
    hold_on_violation: bool = False,
) -> list[QualityAlert]:
    """Store `measurement` and evaluate it on arrival; return the alerts it raised (each
    stored). `rules`: ``nelson``, ``western-electric`` or rule ids for this characteristic."""
    chosen = select_rules(rules)
    prod, char = find_characteristic(factory, measurement.characteristic, product)
    record = MeasurementRecord(
        product=prod.id,
        characteristic=char.name,
        value=measurement.value,
        ts=measurement.ts,
        event_id=measurement.event_id,
        unit=measurement.unit or char.unit,
        machine=measurement.machine,
        part_id=measurement.part_id,
        lot_id=measurement.lot_id,
    )
    if not store.add_measurement(dict(vars(record))):  # flat fields: no deep copy needed
        return []
    alerts: list[QualityAlert] = []
    if out_of_spec(record.value, char.lsl, char.usl):
        alerts.append(_out_of_spec(store, record, char))
    alerts.extend(_spc(store, record, char, chosen, hold_on_violation))
    return alerts


T = TypeVar("T")

NEW_ID_TRIES = 20
"""How often a record is inserted under the next free short id when other writers keep taking
the one just looked up."""


def _with_new_id(prefix: str, taken: Callable[[str], bool], insert: Callable[[str], T]) -> T:
    """`insert(id)` under the next free ``PREFIX-00042`` id. The look-up and the insert are
    two steps: a writer in another process (a measurement recorded by the CLI while the
    server's reactor records another) can take the id between them; the store then refuses
    the insert (`Conflict`, nothing replaced) and the next free id is tried."""
    for _ in range(NEW_ID_TRIES):
        try:
            return insert(next_serial_id(prefix, taken))
        except Conflict:
            continue
    raise Conflict(f"no free {prefix} id after {NEW_ID_TRIES} tries; try again")


def _add_alert(store: QualityStore, make: Callable[[str], QualityAlert]) -> QualityAlert:
    """Store the alert `make` builds under the next short id (``QA-00042``: people read and
    say it)."""

    def insert(alert_id: str) -> QualityAlert:
        alert = make(alert_id)
        store.add_alert(alert_row(alert))
        return alert

    return _with_new_id("QA", lambda alert_id: store.alert(alert_id) is not None, insert)


def _out_of_spec(store: QualityStore, m: MeasurementRecord, char: Characteristic) -> QualityAlert:
    where = f"part {m.part_id}" if m.part_id else f"lot {m.lot_id}" if m.lot_id else m.machine
    spec = (
        f"[{'-∞' if char.lsl is None else char.lsl:g}, {'∞' if char.usl is None else char.usl:g}]"
    )

    def open_ncr(ncr_id: str) -> Nonconformance:
        ncr = Nonconformance(
            id=ncr_id,
            product=m.product,
            characteristic=m.characteristic,
            value=m.value,
            lsl=char.lsl,
            usl=char.usl,
            opened=m.ts,
            part_id=m.part_id,
            lot_id=m.lot_id,
            machine=m.machine,
            description=f"{m.characteristic} = {m.value:g} {m.unit} outside {spec} on {where}",
        )
        store.add_ncr(ncr_row(ncr))
        return ncr

    ncr = _with_new_id("NCR", lambda ncr_id: store.ncr(ncr_id) is not None, open_ncr)
    held = False
    if m.lot_id:
        held = _hold(store, m.lot_id, f"out of specification: {ncr.description}", m.ts, ncr.id)
    return _add_alert(
        store,
        lambda alert_id: QualityAlert(
            id=alert_id,
            kind=AlertKind.OUT_OF_SPEC,
            product=m.product,
            characteristic=m.characteristic,
            value=m.value,
            at=m.ts,
            message=ncr.description,
            machine=m.machine,
            part_id=m.part_id,
            lot_id=m.lot_id,
            lot_held=held,
            ncr=ncr.id,
        ),
    )


def _estimate(store: QualityStore, product: str, char: Characteristic) -> ProcessEstimate | None:
    row = store.limits(product, char.name)
    if row is None:
        return None
    return ProcessEstimate(row["chart"], row["center"], row["sigma"], None, row["subgroups_used"])


def _spc(
    store: QualityStore,
    m: MeasurementRecord,
    char: Characteristic,
    rules: tuple[str, ...],
    hold_on_violation: bool,
) -> list[QualityAlert]:
    n = char.subgroup_size
    total = store.measurement_count(m.product, m.characteristic)
    if total % n:
        return []
    estimate = _estimate(store, m.product, char)
    if estimate is not None and estimate.chart != chart_type_for(n):
        estimate = None  # the subgroup size changed: estimate again
    recent = store.recent_values(m.product, m.characteristic, values_needed(n, estimate))
    check = check_latest(recent, total, n, estimate, rules)
    if check.frozen is not None:
        store.save_limits(
            {
                "product": m.product,
                "characteristic": m.characteristic,
                "chart": check.frozen.chart,
                "center": check.frozen.center,
                "sigma": check.frozen.sigma,
                "subgroups_used": check.frozen.subgroups_used,
                "frozen_at": m.ts,
            }
        )
    alerts: list[QualityAlert] = []
    point = total // n - 1

    def violation_alert(alert_id: str, series: str, rule: str, held: bool) -> QualityAlert:
        return QualityAlert(
            id=alert_id,
            kind=AlertKind.RULE_VIOLATION,
            product=m.product,
            characteristic=m.characteristic,
            value=m.value,
            at=m.ts,
            message=(
                f"{rule} on the {series} chart of {m.product}/{m.characteristic} "
                f"at subgroup {point}"
            ),
            rule=rule,
            series=series,
            point_index=point,
            machine=m.machine,
            part_id=m.part_id,
            lot_id=m.lot_id,
            lot_held=held,
        )

    for series, violation in check.violations:
        held = False
        if hold_on_violation and m.lot_id:
            held = _hold(store, m.lot_id, f"{violation.rule} on {m.characteristic}", m.ts, None)
        make = partial(violation_alert, series=series, rule=violation.rule, held=held)
        alerts.append(_add_alert(store, make))
    return alerts


# -- views for the API and the dashboard ------------------------------------------------------


def characteristic_chart(
    store: QualityStore,
    factory: Factory,
    product: str,
    characteristic: str,
    *,
    rules: str | Iterable[str] = "nelson",
    last: int = 500,
) -> ChartResult:
    """The control chart of the latest `last` subgroups of a characteristic: against the
    frozen limits when Phase I is done, else trial limits from the data shown."""
    _, char = find_characteristic(factory, characteristic, product)
    n = char.subgroup_size
    total = store.measurement_count(product, characteristic)
    usable = min(total - total % n, last * n)
    if usable < 2 * n:
        raise ValidationError(
            f"{product}/{characteristic} has {total} measurements; a chart needs {2 * n}"
        )
    values = store.recent_values(product, characteristic, usable + total % n)[:usable]
    estimate = _estimate(store, product, char)
    if estimate is not None and estimate.chart != chart_type_for(n):
        estimate = None
    return control_chart(
        chart_type_for(n),
        values,
        subgroup_size=None if n == 1 else n,
        rules=rules,
        estimate=estimate,
    )


def characteristic_capability(
    store: QualityStore,
    factory: Factory,
    product: str,
    characteristic: str,
    *,
    last: int = 1000,
    confidence: float = 0.95,
) -> CapabilityResult:
    """Cp, Cpk, Pp, Ppk, Cpm of the latest `last` measurements against the characteristic's
    specification (whole subgroups only)."""
    _, char = find_characteristic(factory, characteristic, product)
    n = char.subgroup_size
    total = store.measurement_count(product, characteristic)
    usable = min(total - total % n, (last // n) * n)
    values = store.recent_values(product, characteristic, usable + total % n)[:usable]
    return process_capability(
        values,
        lsl=char.lsl,
        usl=char.usl,
        target=char.nominal,
        subgroup_size=n,
        confidence=confidence,
    )


# -- holds ------------------------------------------------------------------------------------


def _hold(store: QualityStore, lot: str, reason: str, at: datetime, ncr: str | None) -> bool:
    """Put `lot` on hold; False when it already is."""
    if store.holds(lot=lot, active_only=True):
        return False
    hold = LotHold(lot=lot, reason=reason, held_at=at, ncr=ncr)
    store.add_hold(asdict(hold))
    return True


def hold_lot(
    store: QualityStore, lot: str, reason: str, at: datetime, ncr: str | None = None
) -> LotHold:
    """Put `lot` on hold (a no-op returning the active hold when it is already held)."""
    if not reason.strip():
        raise ValidationError("a hold needs a reason")
    _hold(store, lot, reason, at, ncr)
    return hold_from_row(store.holds(lot=lot, active_only=True)[0])


def release_lot(store: QualityStore, lot: str, *, by: str, at: datetime, note: str = "") -> LotHold:
    """Release the hold on `lot`; Conflict while an NCR on the lot is still open."""
    active = store.holds(lot=lot, active_only=True)
    if not active:
        raise NotFound(f"lot {lot} is not on hold")
    open_ncrs = store.ncrs(lot_id=lot, status=NcrStatus.OPEN.value)
    if open_ncrs:
        ids = ", ".join(r["id"] for r in open_ncrs)
        raise Conflict(f"lot {lot} has open nonconformances ({ids}); disposition them first")
    released = hold_from_row(active[0]).release(by, at, note)
    store.release_hold(lot, at, released.released_by, note)
    return released


def held_lots(store: QualityStore) -> set[str]:
    """Lots on hold: their later operations must not be dispatched or scheduled."""
    return store.held_lots()


def is_work_order_held(store: QualityStore, work_order: WorkOrder) -> bool:
    return bool(work_order.lot) and work_order.lot in store.held_lots()


# -- nonconformances --------------------------------------------------------------------------


def get_ncr(store: QualityStore, ncr_id: str) -> Nonconformance:
    row = store.ncr(ncr_id)
    if row is None:
        raise NotFound(f"no nonconformance {ncr_id}")
    return ncr_from_row(row)


def list_ncrs(
    store: QualityStore, *, lot: str | None = None, status: NcrStatus | None = None
) -> list[Nonconformance]:
    rows = store.ncrs(lot_id=lot, status=status.value if status else None)
    return [ncr_from_row(r) for r in rows]


def list_alerts(
    store: QualityStore, *, lot: str | None = None, limit: int = 1000
) -> list[QualityAlert]:
    return [alert_from_row(r) for r in store.alerts(lot_id=lot, limit=limit)]


def disposition_ncr(
    store: QualityStore,
    ncr_id: str,
    disposition: Disposition | str,
    *,
    by: str,
    at: datetime,
    note: str = "",
) -> Nonconformance:
    """Scrap, rework, use-as-is (needs a justification note) or return to the supplier."""
    try:
        choice = Disposition(disposition)
    except ValueError:
        raise ValidationError(
            f"disposition {disposition!r} is unknown; use scrap, rework, use-as-is or return"
        ) from None
    ncr = get_ncr(store, ncr_id).dispose(choice, by, at, note)
    store.save_ncr(ncr_row(ncr))
    return ncr


def record_capa(
    store: QualityStore,
    ncr_id: str,
    *,
    root_cause: str | None = None,
    corrective_action: str | None = None,
    preventive_action: str | None = None,
    owner: str | None = None,
    due: datetime | None = None,
) -> Nonconformance:
    ncr = get_ncr(store, ncr_id).with_capa(
        root_cause=root_cause,
        corrective_action=corrective_action,
        preventive_action=preventive_action,
        owner=owner,
        due=due,
    )
    store.save_ncr(ncr_row(ncr))
    return ncr


def close_ncr(store: QualityStore, ncr_id: str, at: datetime) -> Nonconformance:
    ncr = get_ncr(store, ncr_id).close(at)
    store.save_ncr(ncr_row(ncr))
    return ncr


# -- the event path ---------------------------------------------------------------------------


class BatchQualityStore:
    """A quality store for one batch of the reactor: measurements are buffered and written in
    bulk at `flush`, and what SPC reads per characteristic (count, recent values, frozen
    limits) is read once and kept up to date in memory; everything else passes through. The
    answers are those the store itself would give after each write."""

    WINDOW = 500

    def __init__(self, inner: QualityStore, known: set[str]) -> None:
        self.inner = inner
        self.known = known
        self.buffer: list[Mapping[str, Any]] = []
        self._count: dict[tuple[str, str], int] = {}
        self._values: dict[tuple[str, str], tuple[list[float], bool]] = {}
        self._limits: dict[tuple[str, str], Row | None] = {}

    def _buffered(self, key: tuple[str, str]) -> list[float]:
        return [
            float(r["value"]) for r in self.buffer if (r["product"], r["characteristic"]) == key
        ]

    def add_measurement(self, row: Mapping[str, Any]) -> bool:
        if row["event_id"] in self.known:
            return False
        self.known.add(row["event_id"])
        self.buffer.append(dict(row))
        key = (row["product"], row["characteristic"])
        if key in self._count:
            self._count[key] += 1
        if key in self._values:
            values = self._values[key][0]
            values.append(float(row["value"]))
            if len(values) > 4 * self.WINDOW:  # keep the newest; older ones are read again
                self._values[key] = (values[-2 * self.WINDOW :], False)
        return True

    def measurement_count(self, product: str, characteristic: str) -> int:
        key = (product, characteristic)
        if key not in self._count:
            self._count[key] = self.inner.measurement_count(*key) + len(self._buffered(key))
        return self._count[key]

    def recent_values(self, product: str, characteristic: str, limit: int) -> list[float]:
        key = (product, characteristic)
        cached = self._values.get(key)
        if cached is None or (len(cached[0]) < limit and not cached[1]):
            want = max(limit, self.WINDOW)
            stored = self.inner.recent_values(product, characteristic, want)
            cached = (stored + self._buffered(key), len(stored) < want)
            self._values[key] = cached
        values = cached[0]
        return values[max(0, len(values) - limit) :]

    def limits(self, product: str, characteristic: str) -> Row | None:
        key = (product, characteristic)
        if key not in self._limits:
            self._limits[key] = self.inner.limits(product, characteristic)
        row = self._limits[key]
        return None if row is None else dict(row)

    def save_limits(self, row: Mapping[str, Any]) -> None:
        self.inner.save_limits(row)
        self._limits[(row["product"], row["characteristic"])] = dict(row)

    def flush(self) -> None:
        self.inner.add_measurements(self.buffer)
        self.buffer = []

    # pass-through ---------------------------------------------------------------------------

    def known_measurements(self, event_ids: Collection[str]) -> set[str]:
        return self.known & set(event_ids)

    def add_measurements(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add_measurement(row)

    def measurements(self, **filters: str | None) -> list[Row]:
        self.flush()
        return self.inner.measurements(**filters)

    def add_alert(self, row: Mapping[str, Any]) -> None:
        self.inner.add_alert(row)

    def alerts(self, *, lot_id: str | None = None, limit: int = 1000) -> list[Row]:
        return self.inner.alerts(lot_id=lot_id, limit=limit)

    def alert(self, alert_id: str) -> Row | None:
        return self.inner.alert(alert_id)

    def add_ncr(self, row: Mapping[str, Any]) -> None:
        self.inner.add_ncr(row)

    def save_ncr(self, row: Mapping[str, Any]) -> None:
        self.inner.save_ncr(row)

    def ncr(self, ncr_id: str) -> Row | None:
        return self.inner.ncr(ncr_id)

    def ncrs(
        self, *, lot_id: str | None = None, part_id: str | None = None, status: str | None = None
    ) -> list[Row]:
        return self.inner.ncrs(lot_id=lot_id, part_id=part_id, status=status)

    def add_hold(self, row: Mapping[str, Any]) -> None:
        self.inner.add_hold(row)

    def release_hold(self, lot: str, released_at: datetime, released_by: str, note: str) -> None:
        self.inner.release_hold(lot, released_at, released_by, note)

    def holds(self, *, lot: str | None = None, active_only: bool = False) -> list[Row]:
        return self.inner.holds(lot=lot, active_only=active_only)

    def held_lots(self) -> set[str]:
        return self.inner.held_lots()


class QualityHandler:
    """Applies committed `measurement` events (a reactor handler): each is recorded and
    evaluated on arrival (`record_measurement`) in the reactor's transaction. A lot put on
    hold stops dispatch of its work and asks for a replan. A measurement of an unknown
    characteristic, or of one several products share, is rejected with the reason (a
    measurement names no product)."""

    kinds = frozenset({"measurement"})

    def __init__(
        self,
        factory: Factory,
        *,
        rules: Mapping[str, str] | None = None,
        hold_on_violation: bool = False,
    ) -> None:
        self.factory = factory
        self.rules = dict(rules or {})
        self.hold_on_violation = hold_on_violation
        self._tx: UnitOfWork | None = None
        self._store: BatchQualityStore | None = None

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        ids = [e.event_id for e in events if e.kind == "measurement"]
        self._tx = tx
        self._store = BatchQualityStore(tx.quality, tx.quality.known_measurements(ids))

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        if tx is self._tx and self._store is not None:
            self._store.flush()
        self._tx, self._store = None, None

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        event = stored.event
        assert isinstance(event, Measurement)
        if tx is not self._tx or self._store is None:  # applied without `prepare`
            self.prepare(tx, [stored])
        assert self._store is not None
        try:
            find_characteristic(self.factory, event.characteristic)
        except (NotFound, ValidationError) as exc:
            raise EventRejected(str(exc)) from None
        alerts = record_measurement(
            self._store,
            self.factory,
            event,
            rules=self.rules.get(event.characteristic, "nelson"),
            hold_on_violation=self.hold_on_violation,
        )
        out.alerts.extend(alerts)
        for alert in alerts:
            if alert.lot_held and alert.lot_id:
                tx.replans.request(alert.at, "quality_hold", alert.lot_id)
                out.holds_changed = True
                out.replans_requested += 1


def release_hold(
    store: QualityStore, planning: ReplanRequester, lot: str, *, by: str, at: datetime, note: str
) -> LotHold:
    """Release the hold on `lot` (Conflict while an NCR is open) and ask for a replan, so its
    remaining work is planned and dispatched again."""
    released = release_lot(store, lot, by=by, at=at, note=note)
    planning.request(at, "hold_released", lot)
    return released
