"""MRP-lite against hand-computed cases: net requirements with safety stock, minimum order
quantity, lead time, open orders and expiry; and when material is there for work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.orders.materials import SupplierTerms
from microfactory.planning.mrp import Demand, Policy, Supply, net_requirements, ready_times

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
DAY = timedelta(days=1)
HORIZON = NOW + 60 * DAY
PETG = Policy("petg", 10.0, (SupplierTerms("Prusament", 4, 40), SupplierTerms("Fila", 1, 5)))


def test_nothing_to_order_when_stock_covers_demand_and_safety() -> None:
    demands = [Demand("petg", 5.0, NOW + DAY, "op1")]
    supplies = [Supply("petg", 20.0, NOW)]
    assert net_requirements(demands, supplies, {"petg": PETG}, NOW, HORIZON) == []


def test_a_dip_below_safety_stock_is_ordered_by_moq_a_lead_time_before() -> None:
    # 20 on hand; day 5 takes 15 -> 5 left, 5 below the safety stock of 10
    demands = [Demand("petg", 15.0, NOW + 5 * DAY, "op1")]
    (s,) = net_requirements(demands, [Supply("petg", 20.0, NOW)], {"petg": PETG}, NOW, HORIZON)
    assert s.material == "petg" and s.supplier == "Prusament"
    assert s.shortfall == pytest.approx(5.0)
    assert s.quantity == 40.0  # the minimum order quantity
    assert s.needed_by == NOW + 5 * DAY and s.order_by == NOW + DAY and not s.late


def test_too_late_for_the_preferred_supplier_the_fastest_one_is_suggested() -> None:
    demands = [Demand("petg", 15.0, NOW + 2 * DAY, "op1")]
    (s,) = net_requirements(demands, [Supply("petg", 20.0, NOW)], {"petg": PETG}, NOW, HORIZON)
    assert s.supplier == "Fila" and s.quantity == 5.0 and s.order_by == NOW + DAY


def test_low_stock_now_is_needed_now_and_late() -> None:
    policy = Policy("petg", 10.0, (SupplierTerms("Prusament", 4, 40),))
    (s,) = net_requirements([], [Supply("petg", 3.0, NOW)], {"petg": policy}, NOW, HORIZON)
    assert s.needed_by == NOW and s.late and s.quantity == 40.0


def test_an_open_order_within_the_lead_time_is_not_ordered_again() -> None:
    policy = Policy("petg", 10.0, (SupplierTerms("Prusament", 4, 40),))
    supplies = [Supply("petg", 3.0, NOW), Supply("petg", 40.0, NOW + 3 * DAY, source="PO-1")]
    assert net_requirements([], supplies, {"petg": policy}, NOW, HORIZON) == []


def test_each_dip_orders_once_and_the_planned_receipt_carries_forward() -> None:
    policy = Policy("alu", 0.0, (SupplierTerms("Metals", 2, 10),))
    demands = [Demand("alu", 4.0, NOW + k * DAY, f"op{k}") for k in range(1, 7)]  # 24 in all
    out = net_requirements(demands, [Supply("alu", 5.0, NOW)], {"alu": policy}, NOW, HORIZON)
    # 5 on hand: day 2 is short 3 -> 10 arrive (7 left after); day 4 short 1 -> 10 more;
    # day 6 leaves 1 -> nothing more
    assert [(s.needed_by, s.quantity) for s in out] == [
        (NOW + 2 * DAY, 10.0),
        (NOW + 4 * DAY, 10.0),
    ]


def test_a_lot_that_expires_before_it_is_needed_does_not_cover_it() -> None:
    policy = Policy("resin", 0.0, (SupplierTerms("Elegoo", 1, 1),), unit="l")
    demands = [Demand("resin", 2.0, NOW + 10 * DAY, "op1")]
    supplies = [Supply("resin", 5.0, NOW, expires=NOW + 5 * DAY)]
    (s,) = net_requirements(demands, supplies, {"resin": policy}, NOW, HORIZON)
    assert s.needed_by == NOW + 10 * DAY and s.quantity == 2.0


def test_pieces_are_ordered_whole() -> None:
    policy = Policy("m3", 0.0, (SupplierTerms("Bossard", 1, 0),), unit="piece")
    (s,) = net_requirements([Demand("m3", 2.5, NOW + DAY, "op1")], [], {"m3": policy}, NOW, HORIZON)
    assert s.quantity == 3.0


def test_demand_beyond_the_horizon_is_left_for_later() -> None:
    demands = [Demand("petg", 100.0, HORIZON + DAY, "op1")]
    assert (
        net_requirements(demands, [Supply("petg", 20.0, NOW)], {"petg": PETG}, NOW, HORIZON) == []
    )


def test_ready_times_follow_the_consumption_order() -> None:
    policy = Policy("petg", 0.0, (SupplierTerms("Prusament", 4, 40),))
    supplies = [Supply("petg", 10.0, NOW), Supply("petg", 10.0, NOW + 3 * DAY, source="PO-1")]
    demands = [
        Demand("petg", 6.0, NOW, "first"),  # covered by stock
        Demand("petg", 6.0, NOW, "second"),  # 12 > 10: waits for the order on day 3
        Demand("petg", 6.0, NOW, "third"),  # 18 <= 20: the same order
        Demand("petg", 6.0, NOW, "fourth"),  # 24 > 20: nothing covers it: the lead time
    ]
    ready = ready_times(demands, supplies, {"petg": policy}, NOW)
    assert ready == {"second": NOW + 3 * DAY, "third": NOW + 3 * DAY, "fourth": NOW + 4 * DAY}


def test_an_operation_waits_for_the_last_of_its_materials() -> None:
    policies = {
        "a": Policy("a", 0.0, (SupplierTerms("S", 2, 1),)),
        "b": Policy("b", 0.0, (SupplierTerms("S", 5, 1),)),
    }
    demands = [Demand("a", 1.0, NOW, "op"), Demand("b", 1.0, NOW, "op")]
    assert ready_times(demands, [], policies, NOW) == {"op": NOW + 5 * DAY}
