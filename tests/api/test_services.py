"""The area's services on their own: read cache, alerts and their acknowledgement (the
login backoff has its own tests in test_login_protection.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.core.clock import FixedClock
from microfactory.core.errors import Conflict, NotFound
from microfactory.services.alerts import Alert, AlertService
from microfactory.services.dashboard import TtlCache

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_cache_returns_the_stored_value_within_its_lifetime() -> None:
    cache, calls = TtlCache(60.0), []
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 1
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 1
    assert len(calls) == 1


def test_cache_with_zero_lifetime_always_recomputes() -> None:
    cache, calls = TtlCache(0.0), []
    for _ in range(3):
        cache.get("k", lambda: calls.append(1))
    assert len(calls) == 3


def test_expired_entry_is_answered_stale_while_one_thread_refreshes_it() -> None:
    cache, calls = TtlCache(3600.0), []
    cache.get("k", lambda: "old")
    cache._items["k"] = (-1e9, "old")  # long expired
    lock = cache._lock("k")
    lock.acquire()  # another thread is refreshing "k" right now
    try:
        assert cache.get("k", lambda: calls.append(1) or "new") == "old"
    finally:
        lock.release()
    assert calls == []
    assert cache.get("k", lambda: "new") == "old"  # answered at once; refresh starts
    with lock:  # wait for the background refresh to finish
        pass
    assert cache.get("k", lambda: "newer") == "new"


def test_clear_forgets_everything() -> None:
    cache = TtlCache(60.0)
    cache.get("k", lambda: 1)
    cache.clear()
    assert cache.get("k", lambda: 2) == 2


class MemoryAcks:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, datetime]] = {}

    def acknowledge(self, alert_id: str, source: str, by: str, at: datetime, note: str) -> bool:
        if alert_id in self.rows:
            return False
        self.rows[alert_id] = (by, at)
        return True

    def acks(self) -> dict[str, tuple[str, datetime]]:
        return dict(self.rows)


def alert(n: int, minutes: int) -> Alert:
    return Alert(
        f"A{n}", "quality", "rule_violation", "inspect", "x", "m", T0 + timedelta(minutes=minutes)
    )


def test_alerts_come_newest_first_and_acknowledged_ones_leave_the_open_list() -> None:
    service = AlertService(MemoryAcks(), FixedClock(T0), [lambda: [alert(1, 1), alert(2, 5)]])
    assert [a.id for a in service.alerts()] == ["A2", "A1"]
    acked = service.acknowledge("A2", "qa")
    assert acked.acknowledged_by == "qa"
    assert [a.id for a in service.alerts(open_only=True)] == ["A1"]
    assert service.open_count() == 1


def test_an_alert_is_acknowledged_once() -> None:
    service = AlertService(MemoryAcks(), FixedClock(T0), [lambda: [alert(1, 1)]])
    service.acknowledge("A1", "qa")
    with pytest.raises(Conflict):
        service.acknowledge("A1", "someone-else")


def test_acknowledging_an_unknown_alert_is_not_found() -> None:
    service = AlertService(MemoryAcks(), FixedClock(T0), [])
    with pytest.raises(NotFound):
        service.acknowledge("nope", "qa")


class FakeStatuses:
    def __init__(self, last: list[datetime]) -> None:
        self.last = last

    def machine_statuses(self) -> list[object]:
        from microfactory.shopfloor.events import MachineStatus

        return [MachineStatus(machine=f"m{i}", last_event=t) for i, t in enumerate(self.last)]


def test_dashboard_clock_follows_a_simulation_running_in_another_time() -> None:
    from microfactory.api.composition import TelemetryClock

    wall = FixedClock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    simulated = [T0, T0 + timedelta(hours=3)]
    clock = TelemetryClock(FakeStatuses(simulated), wall)  # type: ignore[arg-type]
    assert clock.now() == T0 + timedelta(hours=3)


def test_dashboard_clock_is_the_wall_clock_for_a_live_factory() -> None:
    from microfactory.api.composition import TelemetryClock

    wall = FixedClock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    recent = [wall.now() - timedelta(seconds=5)]
    assert TelemetryClock(FakeStatuses(recent), wall).now() == wall.now()  # type: ignore[arg-type]
    assert TelemetryClock(FakeStatuses([]), wall).now() == wall.now()  # type: ignore[arg-type]
