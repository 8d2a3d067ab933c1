"""Alerts in a shop owner's words: one alert per event with every SPC rule that fired, a
plain summary, and the codes and numbers in details."""

from datetime import UTC, datetime

import pytest

from microfactory.core import vocabulary as words
from microfactory.maintenance.health import SignalTrend, _explain
from microfactory.quality.records import AlertKind, QualityAlert
from microfactory.services.alerts import Alert, AlertService, group_quality_alerts

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def violation(
    n: int, rule: str, series: str = "i", point: int = 41, at: datetime = T
) -> QualityAlert:
    return QualityAlert(
        id=f"QA-{n:03d}",
        kind=AlertKind.RULE_VIOLATION,
        product="bracket",
        characteristic="hole_diameter",
        value=10.23,
        at=at,
        message=f"{rule} on the {series} chart of bracket/hole_diameter at subgroup {point}",
        rule=rule,
        series=series,
        point_index=point,
        machine="cnc-01",
        lot_id="LOT-7",
        lot_held=True,
    )


def test_rules_firing_on_one_point_are_one_alert() -> None:
    found = [violation(3, "nelson-6"), violation(1, "nelson-1"), violation(2, "nelson-5")]
    [alert] = group_quality_alerts(found)
    assert alert.id == "QA-001"  # the first stored alert's id: acknowledging it still works
    assert alert.message == (
        "hole diameter is drifting: a point beyond the control limits; "
        "2 of 3 points close to a control limit; 4 of 5 points away from the average on one side"
    )
    assert "nelson-1, nelson-5, nelson-6 on the i chart at subgroup 41" in alert.details
    assert "lot put on hold" in alert.details
    assert alert.what == "process drifting"


def test_the_individuals_and_moving_range_charts_on_one_point_are_one_alert() -> None:
    [alert] = group_quality_alerts([violation(1, "nelson-1", "i"), violation(2, "nelson-1", "mr")])
    assert "on the i and mr charts" in alert.details


def test_different_points_stay_different_alerts() -> None:
    later = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    found = [violation(1, "nelson-1"), violation(2, "nelson-1", point=42, at=later)]
    assert len(group_quality_alerts(found)) == 2


def test_a_part_out_of_tolerance_says_so_and_names_its_ncr() -> None:
    part = QualityAlert(
        id="QA-9",
        kind=AlertKind.OUT_OF_SPEC,
        product="bracket",
        characteristic="hole_diameter",
        value=10.4,
        at=T,
        message="hole_diameter = 10.4 mm outside [9.9, 10.1] on part P-1",
        ncr="NCR-00003",
    )
    [alert] = group_quality_alerts([part])
    assert (
        alert.message
        == "hole diameter measured 10.4, outside the tolerance; nonconformance NCR-00003 opened"
    )
    assert alert.details == part.message


def test_acknowledging_the_grouped_alert_closes_the_event() -> None:
    class Acks:
        def __init__(self) -> None:
            self.rows: dict[str, tuple[str, datetime]] = {}

        def acks(self) -> dict[str, tuple[str, datetime]]:
            return dict(self.rows)

        def acknowledge(self, alert_id: str, source: str, by: str, at: datetime, note: str) -> bool:
            self.rows[alert_id] = (by, at)
            return True

    class Clock:
        def now(self) -> datetime:
            return T

    found = [violation(1, "nelson-1"), violation(2, "nelson-5")]
    service = AlertService(Acks(), Clock(), [lambda: group_quality_alerts(found)])  # type: ignore[arg-type]
    assert service.open_count() == 1
    service.acknowledge("QA-001", "anna")
    assert service.open_count() == 0


def test_predictive_reasoning_reads_as_a_sentence_with_the_numbers_kept_apart() -> None:
    trend = SignalTrend(
        signal="nozzle_pressure", shift=0.958, shift_sigmas=6.3, slope_per_hour=0.01, share=0.8
    )
    reason = _explain((trend,), 0.0, 0.0, 3.1)  # the health model's own text
    text = words.predictive_summary("fdm-03", reason)
    assert text == "fdm-03 is wearing: nozzle pressure moving away from normal; service it now"
    assert "sd" not in text and "RUL" not in text


@pytest.mark.parametrize(
    ("hours", "advice"),
    [
        (5.4, "within about 5 running hours"),  # under a day of running
        (72.0, "within about 3 days of running"),  # days
    ],
)
def test_predictive_advice_follows_the_remaining_life(hours: float, advice: str) -> None:
    trend = SignalTrend(
        signal="vibration", shift=1.0, shift_sigmas=3.0, slope_per_hour=0.1, share=1.0
    )
    assert advice in words.predictive_summary("cnc-01", _explain((trend,), hours, 1.0, 9.0))


@pytest.mark.parametrize(
    ("state", "reason", "text"),
    [
        ("NotAvailable", "off_shift", "off (outside working hours)"),  # the twin's night
        ("NotExecuting", None, "idle"),  # waiting for work
        ("OutOfService", "breakdown:nozzle_clog", "down (broken down: nozzle clog)"),
        ("OutOfService", "pm:PM-3", "down (planned maintenance)"),  # reference dropped
        ("Executing", "custom_code", "running (custom code)"),  # unknown codes still read
        (None, None, "no data"),  # never reported
    ],
)
def test_machine_states_in_words(state: str | None, reason: str | None, text: str) -> None:
    assert words.machine_state(state, reason) == text


def test_every_rule_id_has_words() -> None:
    from microfactory.quality.rules import ALL_RULES

    assert set(ALL_RULES) <= set(words.SPC_RULES)


def test_an_alert_without_details_has_an_empty_fold() -> None:
    a = Alert("A", "events", "job not applied", "m", "s", "msg", T)
    assert a.details == ""


@pytest.mark.parametrize(
    ("kind", "reason", "text"),
    [
        ("corrective", "breakdown:nozzle_clog", "fdm-01 broke down: nozzle clog"),
        ("preventive", "every 200 run-h", "every 200 run-h"),  # planned work keeps its text
    ],
)
def test_maintenance_reasons_in_words(kind: str, reason: str, text: str) -> None:
    assert words.upkeep_summary(reason, kind, "fdm-01") == text
