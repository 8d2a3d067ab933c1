"""The live quality path on every store (memory, SQLite, PostgreSQL): measurement → alert →
hold → NCR → disposition → release, SPC evaluation on arrival, and replay safety."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count, pairwise

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Factory
from microfactory.orders.factory_file import load_factory
from microfactory.orders.products import Characteristic, Product, RoutingOperation
from microfactory.quality.records import AlertKind, Disposition, NcrStatus
from microfactory.services.quality import (
    QualityStore,
    characteristic_capability,
    characteristic_chart,
    close_ncr,
    disposition_ncr,
    held_lots,
    list_alerts,
    list_ncrs,
    record_capa,
    record_measurement,
    release_hold,
    release_lot,
)
from microfactory.shopfloor.events import Measurement

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
LOT = "LOT-SO-7-1"
# A steady Phase I sequence (no alternation, no long runs) for an individuals chart.
STEADY = [5.00, 5.02, 4.99, 5.01, 4.98, 5.00, 5.03, 4.99, 5.01, 5.00,
          4.98, 5.02, 5.01, 4.99, 5.00, 5.01, 4.98, 5.02, 5.00, 4.99]  # fmt: skip


@pytest.fixture(scope="module")
def factory() -> Factory:
    """The demo factory plus a product whose pin diameter is charted individually."""
    demo = load_factory(DEMO_FACTORY)
    pin = Product(
        id="pin",
        name="Turned pin",
        routing=(RoutingOperation(1, "Inspect", "inspect", 5.0, 1.0, inspection=True),),
        characteristics=(Characteristic("pin_diameter", 1, 5.0, 4.9, 5.1, subgroup_size=1),),
    )
    return replace(demo, products=(*demo.products, pin))


@pytest.fixture
def store(quality_store: QualityStore) -> QualityStore:
    return quality_store


class Feed:
    """Measurement events of one characteristic, one minute apart."""

    def __init__(self, characteristic: str, lot: str = LOT) -> None:
        self.characteristic = characteristic
        self.lot = lot
        self.seq = count()

    def __call__(self, value: float, part: str | None = None) -> Measurement:
        k = next(self.seq)
        return Measurement(
            event_id=f"{self.characteristic}-{k}",
            machine="cmm-01",
            seq=k,
            ts=T0 + timedelta(minutes=k),
            characteristic=self.characteristic,
            value=value,
            unit="mm",
            part_id=part or f"P-{k:03d}",
            lot_id=self.lot,
        )


def test_in_spec_values_before_phase_one_raise_nothing(
    store: QualityStore, factory: Factory
) -> None:
    feed = Feed("pin_diameter")
    alerts = [a for v in STEADY[:19] for a in record_measurement(store, factory, feed(v))]
    assert alerts == []
    assert store.limits("pin", "pin_diameter") is None
    assert held_lots(store) == set()


def test_limits_freeze_after_twenty_individuals(store: QualityStore, factory: Factory) -> None:
    feed = Feed("pin_diameter")
    for v in STEADY:
        record_measurement(store, factory, feed(v))
    limits = store.limits("pin", "pin_diameter")
    assert limits is not None and limits["chart"] == "imr"
    assert limits["center"] == pytest.approx(sum(STEADY) / 20)


def test_out_of_spec_part_raises_alert_ncr_and_hold(store: QualityStore, factory: Factory) -> None:
    feed = Feed("pin_diameter")
    (alert,) = record_measurement(store, factory, feed(5.25, part="P-BAD"))
    assert alert.kind == AlertKind.OUT_OF_SPEC and alert.lot_held and alert.ncr
    (ncr,) = list_ncrs(store, lot=LOT)
    assert ncr.id == alert.ncr and ncr.status == NcrStatus.OPEN and ncr.part_id == "P-BAD"
    assert held_lots(store) == {LOT}
    # A second bad part opens a second NCR; the lot is already held.
    (again,) = record_measurement(store, factory, feed(4.80))
    assert again.ncr != alert.ncr and not again.lot_held
    assert len(list_ncrs(store, lot=LOT)) == 2


def test_ncrs_and_alerts_get_short_readable_ids(store: QualityStore, factory: Factory) -> None:
    """NCR-00001, QA-00001: ids people read aloud and type, never 32 hex digits."""
    feed = Feed("pin_diameter")
    first = record_measurement(store, factory, feed(5.25))
    second = record_measurement(store, factory, feed(4.80))
    assert [(a.id, a.ncr) for a in first + second] == [
        ("QA-00001", "NCR-00001"),
        ("QA-00002", "NCR-00002"),
    ]
    assert [n.id for n in list_ncrs(store, lot=LOT)] == ["NCR-00001", "NCR-00002"]
    stored = store.alert("QA-00002")
    assert stored is not None and stored["ncr"] == "NCR-00002"
    assert store.alert("QA-99999") is None


def test_an_id_another_writer_took_is_never_replaced(store: QualityStore, factory: Factory) -> None:
    """The next free id is looked up, then inserted: a writer in another process can take it
    in between. The store refuses the insert (nothing replaced) and the next id is used."""
    feed = Feed("pin_diameter")
    (theirs,) = record_measurement(store, factory, feed(5.25, part="P-THEIRS"))
    assert (theirs.id, theirs.ncr) == ("QA-00001", "NCR-00001")
    before = store.ncr("NCR-00001")
    with pytest.raises(Conflict, match="NCR-00001"):
        store.add_ncr({**(before or {}), "description": "a second writer's NCR"})
    assert store.ncr("NCR-00001") == before
    alert_row = store.alert("QA-00001")
    assert alert_row is not None
    with pytest.raises(Conflict, match="QA-00001"):
        store.add_alert({**alert_row, "message": "another"})

    class LookupBeforeTheirInsert:
        """The real store, whose look-ups of ids miss the other writer's records once each,
        as if they were inserted right after the look-up."""

        def __init__(self, inner: QualityStore) -> None:
            self.inner = inner
            self.missed: set[str] = set()

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def ncr(self, ncr_id: str) -> object:
            if ncr_id == "NCR-00001" and ncr_id not in self.missed:
                self.missed.add(ncr_id)
                return None
            return self.inner.ncr(ncr_id)

        def alert(self, alert_id: str) -> object:
            if alert_id == "QA-00001" and alert_id not in self.missed:
                self.missed.add(alert_id)
                return None
            return self.inner.alert(alert_id)

    racing = LookupBeforeTheirInsert(store)
    (ours,) = record_measurement(racing, factory, feed(4.80, part="P-OURS"))  # type: ignore[arg-type]
    assert racing.missed == {"NCR-00001", "QA-00001"}
    assert (ours.id, ours.ncr) == ("QA-00002", "NCR-00002")
    assert store.ncr("NCR-00001") == before
    assert [n.part_id for n in list_ncrs(store, lot=LOT)] == ["P-THEIRS", "P-OURS"]


def test_release_waits_for_the_disposition(store: QualityStore, factory: Factory) -> None:
    feed = Feed("pin_diameter")
    (alert,) = record_measurement(store, factory, feed(5.25))
    assert alert.ncr is not None
    with pytest.raises(Conflict, match="open nonconformances"):
        release_lot(store, LOT, by="qe.anna", at=T0 + timedelta(hours=1))
    disposition_ncr(store, alert.ncr, "rework", by="qe.anna", at=T0 + timedelta(hours=1))
    released = release_lot(store, LOT, by="qe.anna", at=T0 + timedelta(hours=2), note="reworked")
    assert released.released_by == "qe.anna" and not released.active
    assert held_lots(store) == set()
    with pytest.raises(NotFound, match="not on hold"):
        release_lot(store, LOT, by="qe.anna", at=T0 + timedelta(hours=3))


def test_ncr_capa_and_close_are_stored(store: QualityStore, factory: Factory) -> None:
    (alert,) = record_measurement(store, factory, Feed("pin_diameter")(4.7))
    assert alert.ncr is not None
    disposition_ncr(store, alert.ncr, Disposition.SCRAP, by="qe.anna", at=T0)
    record_capa(store, alert.ncr, root_cause="tool wear", corrective_action="new insert")
    closed = close_ncr(store, alert.ncr, T0 + timedelta(days=1))
    (stored,) = list_ncrs(store, lot=LOT)
    assert stored == closed and stored.status == NcrStatus.CLOSED
    assert stored.root_cause == "tool wear"


def test_run_of_nine_above_centre_alerts_on_the_ninth_point(
    store: QualityStore, factory: Factory
) -> None:
    feed = Feed("pin_diameter")
    rules = ("nelson-1", "nelson-2")
    for v in STEADY:
        assert record_measurement(store, factory, feed(v), rules=rules) == []
    centre = sum(STEADY) / 20
    high = round(centre + 0.01, 4)  # above the centre line, well inside the limits
    for _ in range(8):
        assert record_measurement(store, factory, feed(high), rules=rules) == []
    (alert,) = record_measurement(store, factory, feed(high), rules=rules)
    assert alert.kind == AlertKind.RULE_VIOLATION
    assert (alert.rule, alert.series, alert.point_index) == ("nelson-2", "i", 28)
    assert not alert.lot_held
    assert [a.rule for a in list_alerts(store)] == ["nelson-2"]


def test_subgrouped_characteristic_is_evaluated_per_complete_subgroup(
    store: QualityStore, factory: Factory
) -> None:
    feed = Feed("hole_pitch")  # bracket, subgroup size 5 → X̄-R after 20 subgroups
    pattern = [40.00, 40.02, 39.98, 40.01, 39.99]
    for k in range(100):
        record_measurement(store, factory, feed(pattern[k % 5] + 0.001 * (k % 7)))
    limits = store.limits("bracket", "hole_pitch")
    assert limits is not None and limits["chart"] == "xbar-r"
    assert limits["subgroups_used"] == 20


def test_replayed_event_changes_nothing(store: QualityStore, factory: Factory) -> None:
    event = Feed("pin_diameter")(5.3)
    assert len(record_measurement(store, factory, event)) == 1
    assert record_measurement(store, factory, event) == []
    assert store.measurement_count("pin", "pin_diameter") == 1
    assert len(list_ncrs(store)) == 1


def test_unknown_characteristic_is_not_found(store: QualityStore, factory: Factory) -> None:
    with pytest.raises(NotFound, match="no characteristic"):
        record_measurement(store, factory, Feed("flatness")(1.0))


def test_unknown_rule_set_is_rejected(store: QualityStore, factory: Factory) -> None:
    with pytest.raises(ValidationError, match="unknown rule"):
        record_measurement(store, factory, Feed("pin_diameter")(5.0), rules="nelsen")


def test_releasing_a_hold_asks_for_a_replan(store: QualityStore, factory: Factory) -> None:
    requests: list[tuple[str, str]] = []

    class Planner:
        def request(self, at: datetime, trigger: str, reason: str = "") -> None:
            requests.append((trigger, reason))

    (alert,) = record_measurement(store, factory, Feed("pin_diameter")(5.4))
    assert alert.ncr is not None and alert.lot_held
    with pytest.raises(Conflict, match="open nonconformances"):
        release_hold(store, Planner(), LOT, by="qe.anna", at=T0, note="")
    assert requests == []
    disposition_ncr(store, alert.ncr, "scrap", by="qe.anna", at=T0)
    release_hold(store, Planner(), LOT, by="qe.anna", at=T0 + timedelta(hours=1), note="ok")
    assert requests == [("hold_released", LOT)]


def test_characteristic_chart_uses_the_frozen_limits(store: QualityStore, factory: Factory) -> None:
    feed = Feed("pin_diameter")
    for v in [*STEADY, *[5.02] * 9]:
        record_measurement(store, factory, feed(v), rules=("nelson-2",))
    chart = characteristic_chart(store, factory, "pin", "pin_diameter", rules=("nelson-2",))
    i = chart.series("i")
    assert i.points.shape[0] == 29
    assert float(i.center[0]) == pytest.approx(sum(STEADY) / 20)  # Phase I, not all 29
    assert [v.index for v in i.violations] == [28]


def test_characteristic_capability_uses_the_specification(
    store: QualityStore, factory: Factory
) -> None:
    feed = Feed("pin_diameter")
    for v in STEADY:
        record_measurement(store, factory, feed(v))
    result = characteristic_capability(store, factory, "pin", "pin_diameter")
    mr_bar = sum(abs(b - a) for a, b in pairwise(STEADY)) / 19
    assert (result.lsl, result.usl, result.target) == (4.9, 5.1, 5.0)
    assert result.cp == pytest.approx(0.2 / (6 * mr_bar / 1.128379), rel=1e-5)


def test_chart_needs_two_subgroups(store: QualityStore, factory: Factory) -> None:
    record_measurement(store, factory, Feed("pin_diameter")(5.0))
    with pytest.raises(ValidationError, match="a chart needs 2"):
        characteristic_chart(store, factory, "pin", "pin_diameter")
