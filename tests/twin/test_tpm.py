"""TPM: when plans come due, the maintenance work-order lifecycle, windows for the
scheduler, checklists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.core.errors import Conflict
from microfactory.maintenance.tpm import (
    DEFAULT_PLANS,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceWorkOrder,
    Part,
    PmPlan,
    Trigger,
    Usage,
    checklist_for,
    is_due,
    open_pm,
    unavailability,
)

NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
RUN_HOURS_PLAN = PmPlan("p", "fdm_printer", Trigger.RUN_HOURS, 100.0, 60.0, 1.0, lead=0.9)


@pytest.mark.parametrize(
    ("plan", "usage", "due"),
    [
        (RUN_HOURS_PLAN, Usage("m", 89.9, 0, NOW), False),  # just under the 90 % lead
        (RUN_HOURS_PLAN, Usage("m", 90.0, 0, NOW), True),  # at the lead
        (
            PmPlan("c", "finishing", Trigger.CYCLES, 1000, 30, 0.5, lead=1.0),
            Usage("m", 0, 1000, NOW),
            True,
        ),
        (
            PmPlan("d", "painting", Trigger.CALENDAR_DAYS, 14, 60, 1.0, lead=1.0),
            Usage("m", 0, 0, NOW - timedelta(days=13)),
            False,
        ),
        (
            PmPlan("d", "painting", Trigger.CALENDAR_DAYS, 14, 60, 1.0, lead=1.0),
            Usage("m", 0, 0, NOW - timedelta(days=14)),
            True,
        ),
    ],
)
def test_plans_come_due_by_their_trigger(plan: PmPlan, usage: Usage, due: bool) -> None:
    assert is_due(plan, usage, NOW) is due


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0.0},  # no interval
        {"minutes": 0.0},  # no duration
        {"lead": 1.5},  # lead beyond the interval
    ],
)
def test_bad_plans_are_rejected(kwargs: dict[str, float]) -> None:
    base = {"interval": 100.0, "minutes": 60.0, "labour_hours": 1.0, "lead": 0.9}
    base.update(kwargs)
    with pytest.raises(ValueError):
        PmPlan("x", "fdm_printer", Trigger.RUN_HOURS, **base)  # type: ignore[arg-type]


def test_work_order_goes_open_planned_done_with_parts_and_labour() -> None:
    wo = open_pm(RUN_HOURS_PLAN, "fdm-01", "fdm_printer", "PM-1", NOW)
    assert wo.status == MaintenanceStatus.OPEN and wo.kind == MaintenanceKind.PREVENTIVE
    planned = wo.plan_window(NOW + timedelta(hours=2))
    assert planned.window is not None
    assert planned.window.end - planned.window.start == timedelta(minutes=60)
    done = planned.complete(NOW + timedelta(hours=2), NOW + timedelta(hours=3), 1.25)
    assert (done.status, done.labour_hours) == (MaintenanceStatus.DONE, 1.25)


def test_an_open_work_order_cannot_be_done() -> None:
    wo = open_pm(RUN_HOURS_PLAN, "fdm-01", "fdm_printer", "PM-1", NOW)
    with pytest.raises(Conflict):
        wo.complete(NOW, NOW, 1.0)


def test_a_planned_work_order_needs_a_window() -> None:
    with pytest.raises(ValueError):
        MaintenanceWorkOrder(
            "PM-2",
            "fdm-01",
            MaintenanceKind.PREVENTIVE,
            NOW,
            60.0,
            status=MaintenanceStatus.PLANNED,
        )


def test_planned_windows_become_machine_unavailability() -> None:
    a = open_pm(RUN_HOURS_PLAN, "fdm-01", "fdm_printer", "PM-1", NOW).plan_window(NOW)
    b = open_pm(RUN_HOURS_PLAN, "fdm-02", "fdm_printer", "PM-2", NOW)  # still open
    windows = unavailability([a, b])
    assert list(windows) == ["fdm-01"]
    assert windows["fdm-01"][0].start == NOW


def test_parts_need_a_positive_quantity() -> None:
    with pytest.raises(ValueError):
        Part("nozzle", 0)


def test_every_demo_machine_type_has_a_checklist() -> None:
    for machine_type in ("fdm_printer", "resin_printer", "cnc_mill", "laser_cutter", "inspection"):
        assert len(checklist_for(machine_type)) >= 3
    assert checklist_for("packaging")  # a generic list for types without their own
    assert {p.trigger for p in DEFAULT_PLANS} == set(Trigger)
