"""Capacity load per machine and the intake check, on hand-made plans whose answer is known:
planned against available hours per local day, the bottleneck, and a warning that names the
machine an order would wait for when it cannot make its due date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.orders import OrderLine
from microfactory.orders.factory_file import load_factory
from microfactory.quoting.ctp import Slot
from microfactory.services.capacity import capacity_load, intake_check, quote_bottleneck_warning

# Monday 5 January 2026, 07:00 in Berlin (06:00 UTC); the demo factory's site is in Berlin
NOW = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)
FACTORY = load_factory(DEMO_FACTORY, at=NOW)


def row(machine: str, start: datetime, hours: float, wo: str = "WO-1") -> dict[str, Any]:
    return {
        "operation": f"{wo}-{machine}-{start.isoformat()}",
        "work_order": wo,
        "machine": machine,
        "start": start,
        "end": start + hours * H,
        "due": None,
    }


def machine(view: Any, mid: str) -> Any:
    return next(m for m in view.machines if m.machine == mid)


def test_a_day_of_planned_work_against_the_shift_calendar() -> None:
    # the mill works 06:00-22:00 local on weekdays: 16 h on Monday; 8 h planned from 08:00
    rows = [row("cnc", NOW + H, 8)]
    view = capacity_load(FACTORY, rows, {}, NOW, days=7)
    cnc = machine(view, "cnc")
    monday = cnc.days[0]
    assert monday.label == "2026-01-05"
    assert (monday.planned_h, monday.available_h) == (8.0, 16.0)
    assert monday.load == pytest.approx(0.5)
    saturday, sunday = cnc.days[5], cnc.days[6]
    assert saturday.available_h == 6.0 and sunday.available_h == 0.0 and sunday.load is None
    assert cnc.booked_until == NOW + 9 * H
    # the printers run around the clock: 24 h a day
    assert machine(view, "fdm-01").days[0].available_h == 24.0


def test_a_breakdown_window_takes_available_hours_away() -> None:
    down = {"cnc": [(NOW + 2 * H, NOW + 6 * H, "breakdown")]}
    view = capacity_load(FACTORY, [], down, NOW, days=1)
    assert machine(view, "cnc").days[0].available_h == 12.0


def test_the_bottleneck_is_the_most_loaded_machine() -> None:
    rows = [row("fdm-xl", NOW, 24 * 6), row("cnc", NOW + H, 4), row("fdm-01", NOW, 10)]
    view = capacity_load(FACTORY, rows, {}, NOW, days=7)
    assert view.bottleneck is not None and view.bottleneck.machine == "fdm-xl"
    # six days from Monday 07:00 local end on Sunday 07:00: all in the week shown
    assert sum(w.planned_h for w in machine(view, "fdm-xl").weeks) == pytest.approx(24 * 6)
    assert view.to_dict()["bottleneck"] == "fdm-xl"


def test_no_planned_work_no_bottleneck() -> None:
    assert capacity_load(FACTORY, [], {}, NOW, days=3).bottleneck is None


def test_an_order_that_fits_gets_no_warning() -> None:
    check = intake_check(FACTORY, [], {}, [OrderLine("bracket", 2)], NOW + 3 * 24 * H, NOW)
    assert not check.late and check.completion is not None
    assert check.message.startswith("fits")


def test_a_booked_bottleneck_warns_with_the_machine_and_until_when() -> None:
    # the large-format printer is booked for ten days; a large prototype due in three cannot
    # make it, and the warning says so and why
    rows = [row("fdm-xl", NOW, 240)]
    line = OrderLine("large-prototype", 1, {"height_mm": 300.0})
    check = intake_check(FACTORY, rows, {}, [line], NOW + 72 * H, NOW)
    assert check.late
    assert check.bottleneck == "fdm-xl"
    assert check.booked_until == NOW + 240 * H
    assert check.completion is not None and check.completion > NOW + 240 * H
    assert "Large-format FDM printer (fdm-xl)" in check.message
    assert "after the due date" in check.message
    assert check.to_dict()["late"] is True


def test_work_on_other_machines_does_not_warn_a_product_that_avoids_them() -> None:
    rows = [row("fdm-xl", NOW, 240)]
    line = OrderLine("alu-plate", 2)
    assert not intake_check(FACTORY, rows, {}, [line], NOW + 72 * H, NOW).late


def test_a_quote_waiting_long_for_its_printer_says_which_and_why() -> None:
    slots = [
        Slot("print (fdm)", "fdm-xl", NOW + 40 * H, NOW + 50 * H),
        Slot("Finish", "finish", NOW + 50 * H, NOW + 51 * H),
    ]
    note = quote_bottleneck_warning(FACTORY, slots, NOW, {"fdm-xl": NOW + 40 * H})
    assert note is not None and "fdm-xl" in note and "waits 40 h" in note
    short = [Slot("print (fdm)", "fdm-01", NOW + 2 * H, NOW + 4 * H)]
    assert quote_bottleneck_warning(FACTORY, short, NOW, {}) is None


def test_looking_back_counts_the_hours_worked_inside_the_shifts() -> None:
    # Tuesday 07:00 local; on Monday the mill ran 18:00-23:00 local and after a night's pause
    # 06:00-08:00 on Tuesday: 4 h on Monday (its shift ends at 22:00) and 1 h before now
    now = NOW + 24 * H
    worked = {"cnc": [(NOW + 11 * H, NOW + 25 * H)]}
    view = capacity_load(FACTORY, [], {}, now, days=1, back=1, worked=worked)
    cnc = machine(view, "cnc")
    assert [d.label for d in cnc.days] == ["2026-01-05", "2026-01-06"]
    assert cnc.days[0].planned_h == 4.0
    assert cnc.days[1].planned_h == 1.0  # the worked hour before now; nothing planned after
    assert cnc.planned_h == 5.0 and cnc.available_h == 32.0
