"""One contract for the plan-version store: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from microfactory.core.errors import NotFound
from microfactory.services.ports import PlanStore
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.planning_sql import MemoryPlanStore, SqlPlanStore

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[PlanStore]:
    if request.param == "memory":
        yield MemoryPlanStore()
        return
    url_fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    engine = make_engine(request.getfixturevalue(url_fixture))
    upgrade(engine)
    yield SqlPlanStore(engine)
    engine.dispose()


def _header(reason: str) -> dict[str, Any]:
    return {
        "created_at": T0,
        "origin": T0,
        "objective": "weighted_tardiness",
        "objective_value": 12,
        "status": "optimal",
        "solver": "cpsat",
        "seconds": 0.5,
        "reason": reason,
        "weighted_tardiness": 12,
        "moved": 0,
    }


def _op(name: str, minutes: int) -> dict[str, Any]:
    return {
        "operation": name,
        "work_order": "WO-1",
        "machine": "cnc",
        "start": T0 + timedelta(minutes=minutes),
        "end": T0 + timedelta(minutes=minutes + 30),
        "due": T0 + timedelta(days=1),
        "frozen": False,
    }


def test_empty_store_has_no_current_plan(store: PlanStore) -> None:
    assert store.current_plan() is None


def test_saving_makes_the_newest_version_current(store: PlanStore) -> None:
    assert store.save_plan(_header("first"), [_op("WO-1-20", 40), _op("WO-1-10", 0)]) == 1
    assert store.save_plan(_header("second"), [_op("WO-1-10", 5)]) == 2
    current = store.current_plan()
    assert current is not None
    header, ops = current
    assert (header["version"], header["current"], header["reason"]) == (2, True, "second")
    assert [o["start"] for o in ops] == [T0 + timedelta(minutes=5)]
    old_header, old_ops = store.get_plan(1)
    assert old_header["current"] is False
    assert [o["operation"] for o in old_ops] == ["WO-1-10", "WO-1-20"]  # by start time
    assert [v["version"] for v in store.versions()] == [1, 2]


def test_unknown_version_is_not_found(store: PlanStore) -> None:
    with pytest.raises(NotFound):
        store.get_plan(7)


def test_downtimes_are_kept_trimmed_and_filtered(store: PlanStore) -> None:
    hour = timedelta(hours=1)
    store.add_downtime("cnc", T0, T0 + 10 * hour, "breakdown")
    store.add_downtime("cnc", T0 + 20 * hour, T0 + 22 * hour, "maintenance")
    store.add_downtime("laser", T0 + 2 * hour, T0 + 3 * hour, "lens")
    assert store.end_downtime("cnc", T0 + 2 * hour) == 1  # back early: the later window stays
    assert store.downtimes() == {
        "cnc": [(T0, T0 + 2 * hour, "breakdown"), (T0 + 20 * hour, T0 + 22 * hour, "maintenance")],
        "laser": [(T0 + 2 * hour, T0 + 3 * hour, "lens")],
    }
    assert store.downtimes(since=T0 + 5 * hour) == {
        "cnc": [(T0 + 20 * hour, T0 + 22 * hour, "maintenance")]
    }
    assert store.end_downtime("laser", T0 + 2 * hour) == 1  # back when it starts: gone
    assert "laser" not in store.downtimes()
    assert store.end_downtime("laser", T0) == 0


def test_bad_downtime_is_rejected_and_nothing_is_stored(store: PlanStore) -> None:
    with pytest.raises(ValueError, match="not after start"):
        store.add_downtime("cnc", T0, T0, "breakdown")
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add_downtime("cnc", datetime(2026, 1, 5), datetime(2026, 1, 6), "breakdown")
    assert store.downtimes() == {}


def test_the_operator_of_each_operation_is_kept(store: PlanStore) -> None:
    attended = dict(_op("WO-1-1", 0), operator="anna")
    nobody = _op("WO-1-2", 60)  # a row without the key: nobody needed (older callers)
    version = store.save_plan(_header("plan"), [attended, nobody])
    _, rows = store.get_plan(version)
    assert {row["operation"]: row["operator"] for row in rows} == {
        "WO-1-1": "anna",
        "WO-1-2": None,
    }
