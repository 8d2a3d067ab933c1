from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from microfactory.core import Conflict
from microfactory.orders import (
    Order,
    OrderLine,
    OrderStatus,
    ParameterSpec,
    Product,
    RoutingOperation,
    WorkStatus,
    explode_work_orders,
)
from microfactory.shopfloor import Machine, Shift, ShiftCalendar, Window

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday


def machine(**kw: Any) -> Machine:
    base: dict[str, Any] = dict(
        id="fdm-01",
        name="FDM",
        type="fdm_printer",
        area="print",
        capabilities=frozenset({"fdm_print"}),
        cost_per_hour=4.0,
    )
    base.update(kw)
    return Machine(**base)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "bad id"}, "machine id"),  # space in id
        ({"type": "teleporter"}, "machine type"),  # unknown type
        ({"capabilities": frozenset()}, "at least one capability"),  # no capability
        ({"cost_per_hour": -1.0}, "cost_per_hour"),  # negative cost
        ({"build_volume_mm": (200.0, 0.0, 100.0)}, "build_volume_mm"),  # zero length
        ({"setup_minutes": -5.0}, "setup times"),  # negative setup
        ({"speed_factor": 0.0}, "speed_factor"),  # zero speed
    ],
)
def test_machine_rejects_broken_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        machine(**changes)


def test_machine_setup_time_uses_matrix_then_default() -> None:
    m = machine(setup_minutes=12.0, setup_matrix={("black", "white"): 25.0})
    assert m.setup_time_minutes("black", "white") == 25.0
    assert m.setup_time_minutes("white", "black") == 12.0
    assert m.setup_time_minutes("white", "white") == 0.0
    assert m.setup_time_minutes(None, "white") == 0.0


def test_machine_fit_allows_reorienting_the_part() -> None:
    m = machine(build_volume_mm=(250.0, 210.0, 220.0))
    assert m.fits((100.0, 240.0, 50.0))
    assert not m.fits((260.0, 100.0, 100.0))


def test_calendar_working_windows_follow_shifts_and_unavailability() -> None:
    cal = ShiftCalendar(
        shifts=(Shift(("mon", "tue", "wed", "thu", "fri"), time(6), time(22)),),
        unavailable=(Window(T0 + timedelta(hours=10), T0 + timedelta(hours=12), "PM"),),
    )
    windows = cal.working_windows(T0, T0 + timedelta(days=7))
    # Monday 06–10 and 12–22, Tue–Fri 06–22, no weekend.
    assert windows[0].start == T0 + timedelta(hours=6)
    assert windows[0].end == T0 + timedelta(hours=10)
    assert windows[1].start == T0 + timedelta(hours=12)
    assert len(windows) == 6
    assert cal.available_seconds(T0, T0 + timedelta(days=7)) == (16 * 5 - 2) * 3600


def test_night_shift_wraps_midnight() -> None:
    cal = ShiftCalendar(shifts=(Shift(("mon",), time(22), time(6)),))
    windows = cal.working_windows(T0, T0 + timedelta(days=2))
    assert [(w.start, w.end) for w in windows] == [
        (T0 + timedelta(hours=22), T0 + timedelta(hours=30))
    ]


def product(**kw: Any) -> Product:
    base: dict[str, Any] = dict(
        id="bracket",
        name="Bracket",
        routing=(
            RoutingOperation(1, "Print", "fdm_print", 10, 30, setup_family="{colour}"),
            RoutingOperation(2, "Inspect", "inspect", 5, 1),
        ),
        parameters=(
            ParameterSpec("colour", "choice", default="black", choices=("black", "white")),
            ParameterSpec("length_mm", "float", min=20, max=200, default=80),
        ),
    )
    base.update(kw)
    return Product(**base)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"colour": "pink"}, "not one of"),  # choice outside the list
        ({"length_mm": 500}, "above its maximum"),  # out of range
        ({"length_mm": "long"}, "must be a number"),  # wrong type
        ({"weight": 3}, "has no parameter"),  # unknown parameter
    ],
)
def test_product_parameters_are_range_checked(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        product().resolve_parameters(given)


def test_product_rejects_precedence_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        product(
            routing=(
                RoutingOperation(1, "A", "x", 1, 0, after=(2,)),
                RoutingOperation(2, "B", "x", 1, 0, after=(1,)),
            )
        )


def test_assembly_merge_predecessors() -> None:
    p = product(
        routing=(
            RoutingOperation(1, "Body", "fdm_print", 1, 1),
            RoutingOperation(2, "Sink", "cnc_mill", 1, 1, after=()),
            RoutingOperation(3, "Assemble", "assemble", 1, 1, after=(1, 2)),
            RoutingOperation(4, "Pack", "pack", 1, 0),
        ),
        parameters=(),
    )
    assert p.predecessors() == {1: (), 2: (), 3: (1, 2), 4: (3,)}


def order(**kw: Any) -> Order:
    base: dict[str, Any] = dict(
        id="SO-1",
        customer="acme",
        lines=(OrderLine("bracket", 4, {"colour": "white"}),),
        due=T0 + timedelta(days=5),
        created=T0,
    )
    base.update(kw)
    return Order(**base)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lines": ()}, "at least one line"),  # empty order
        ({"due": T0 - timedelta(hours=1)}, "due date must be after"),  # due before created
        ({"priority": 9}, "priority"),  # priority outside 1–5
        ({"due": datetime(2026, 2, 1)}, "timezone-aware"),  # naive due date
    ],
)
def test_order_rejects_broken_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        order(**changes)


def test_order_line_quantity_must_be_positive_whole() -> None:
    with pytest.raises(ValueError):
        OrderLine("bracket", 0)
    with pytest.raises(ValueError):
        OrderLine("bracket", 2.5)  # type: ignore[arg-type]


def test_order_lifecycle_allows_forward_and_cancel_only() -> None:
    o = order(status=OrderStatus.QUOTED)
    o = o.transition(OrderStatus.CONFIRMED).transition(OrderStatus.RELEASED)
    o = o.transition(OrderStatus.IN_PRODUCTION).transition(OrderStatus.DONE)
    assert o.status == OrderStatus.DONE
    with pytest.raises(Conflict, match="cannot go from done to cancelled"):
        o.transition(OrderStatus.CANCELLED)
    with pytest.raises(Conflict):
        order(status=OrderStatus.QUOTED).transition(OrderStatus.DONE)


def test_explode_work_orders_resolves_times_and_setup_families() -> None:
    wos = explode_work_orders(order(), {"bracket": product()})
    assert len(wos) == 1
    wo = wos[0]
    assert wo.id == "SO-1-1"
    assert [op.minutes for op in wo.operations] == [10 + 30 * 4, 5 + 1 * 4]
    assert wo.operations[0].setup_family == "colour=white"
    assert wo.operations[1].predecessors == (1,)
    assert wo.status == WorkStatus.PLANNED
    with pytest.raises(Conflict):
        wo.transition(WorkStatus.DONE)
