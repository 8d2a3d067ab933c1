"""The pages' shared read models: every viewer shares one computation for a few seconds,
but a change made through this process (an API write, a replan, a measurement) shows on the
next page view; and the serving process's start-up (frozen heap, warm read models)."""

from __future__ import annotations

import asyncio
import gc
import re
import threading

import pytest

from api.support import Env, order_body
from microfactory.access import Role
from microfactory.api.startup import YOUNG_THRESHOLD
from microfactory.services.dashboard import TtlCache
from microfactory.services.quality_views import MIN_POINTS
from microfactory.web.warm import warm_pages, warm_steps
from web.test_pages import logged_in


def test_a_replan_shows_on_the_schedule_page_at_once(sqlite_env: Env) -> None:
    page, _ = logged_in(sqlite_env)
    planner = sqlite_env.as_role(Role.PLANNER)
    first = planner.post("/api/v1/plans/replan", json={"time_limit_s": 1})
    assert first.status_code == 201, first.text
    shown = page.get("/schedule").text  # type: ignore[attr-defined]
    assert f'data-version="{first.json()["version"]}"' in shown
    second = planner.post("/api/v1/plans/replan", json={"time_limit_s": 1})
    assert second.status_code == 201, second.text
    assert second.json()["version"] != first.json()["version"]
    shown = page.get("/schedule").text  # type: ignore[attr-defined]
    assert f'data-version="{second.json()["version"]}"' in shown


def test_a_measurement_shows_on_the_quality_page_at_once(sqlite_env: Env) -> None:
    factory = sqlite_env.ctx.stations.factory  # type: ignore[union-attr]
    char = next(c for p in factory.products for c in p.characteristics)
    operator = sqlite_env.as_role(Role.OPERATOR)
    page, _ = logged_in(sqlite_env)

    def measure(k: int) -> None:
        r = operator.post(
            "/api/v1/machines/inspect/measurements",
            json={
                "characteristic": char.name,
                "value": char.nominal + 0.001 * (k % 3),  # a chart needs some spread
                "part_id": f"P-{k}",
            },
        )
        assert r.status_code == 200, r.text

    for k in range(MIN_POINTS - 1):
        measure(k)
    before = page.get("/quality").text  # type: ignore[attr-defined]
    assert "No characteristic has enough measurements" in before  # now cached for viewers
    measure(MIN_POINTS)
    after = page.get("/quality").text  # type: ignore[attr-defined]
    assert re.search(rf"Control chart of \S+ {re.escape(char.name)}", after)


def test_an_api_change_clears_the_pages_shared_cache(sqlite_env: Env) -> None:
    ctx = sqlite_env.ctx
    ctx.cache.get("schedule-page", lambda: "computed before the change")
    assert "schedule-page" in ctx.cache
    ctx.dashboard.invalidate()
    assert "schedule-page" not in ctx.cache


def test_a_refresh_begun_before_a_clear_is_not_stored() -> None:
    cache = TtlCache(60.0)
    started, release = threading.Event(), threading.Event()
    got: list[str] = []

    def slow_read() -> str:
        started.set()
        release.wait(10)
        return "read before the change"

    reader = threading.Thread(target=lambda: got.append(cache.get("k", slow_read)))
    reader.start()
    assert started.wait(10)
    cache.clear()  # a change lands while the read is under way
    release.set()
    reader.join(10)
    assert got == ["read before the change"]  # its own caller gets what it read
    assert "k" not in cache
    assert cache.get("k", lambda: "read after the change") == "read after the change"


def test_a_stale_entry_is_refreshed_in_the_background_but_not_after_a_clear() -> None:
    cache = TtlCache(1e-9)  # every entry is already expired when read again
    assert cache.get("k", lambda: "first") == "first"
    started, release = threading.Event(), threading.Event()

    def slow_read() -> str:
        started.set()
        release.wait(10)
        return "refreshed before the change"

    assert cache.get("k", slow_read) == "first"  # stale answer, refresh in a thread
    assert started.wait(10)
    cache.clear()
    release.set()
    refresh_done = cache._lock("k")  # held by the refresh until it has stored (or not)
    assert refresh_done.acquire(timeout=10)
    refresh_done.release()
    assert "k" not in cache


def test_after_expire_a_value_is_served_while_it_is_refreshed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shop-floor action expires the caches: readers never wait for a computation, the
    value lives at most `SETTLE_S` more, then the next reader gets it once more while a
    background refresh computes the new one."""
    now = [100.0]
    monkeypatch.setattr("microfactory.services.dashboard.time.monotonic", lambda: now[0])
    cache = TtlCache(60.0)
    assert cache.get("k", lambda: "before") == "before"
    cache.expire()
    assert cache.get("k", lambda: "not yet") == "before"  # still within SETTLE_S: fresh
    now[0] += TtlCache.SETTLE_S + 0.01
    started = threading.Event()

    def read_again() -> str:
        started.set()
        return "after"

    assert cache.get("k", read_again) == "before"  # served at once, refresh in a thread
    assert started.wait(10)
    refresh_done = cache._lock("k")
    assert refresh_done.acquire(timeout=10)
    refresh_done.release()
    assert cache.get("k", lambda: "not again") == "after"
    assert "k" in cache


def test_a_value_read_before_an_expire_is_stored_with_the_shorter_life(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("microfactory.services.dashboard.time.monotonic", lambda: now[0])
    cache = TtlCache(60.0)
    started, release = threading.Event(), threading.Event()
    got: list[str] = []

    def slow_read() -> str:
        started.set()
        release.wait(10)
        return "read before the action"

    reader = threading.Thread(target=lambda: got.append(cache.get("k", slow_read)))
    reader.start()
    assert started.wait(10)
    cache.expire()  # an operator's action lands while the read is under way
    release.set()
    reader.join(10)
    assert got == ["read before the action"]
    assert cache.get("k", lambda: "unused") == "read before the action"
    now[0] += TtlCache.SETTLE_S + 0.01  # not the full 60 s: refreshed at the next read
    assert cache.get("k", lambda: "read after the action") == "read before the action"
    refresh_done = cache._lock("k")
    assert refresh_done.acquire(timeout=10)
    refresh_done.release()
    assert cache.get("k", lambda: "unused") == "read after the action"


def test_entries_unread_for_many_lifetimes_are_dropped() -> None:
    cache = TtlCache(0.001)
    cache.get("oee:2026-01-12T09:00", lambda: 1)
    threading.Event().wait(cache.EVICT_AFTER * cache.ttl_s * 2)
    cache.get("oee:2026-01-12T09:01", lambda: 2)
    assert "oee:2026-01-12T09:00" not in cache
    assert "oee:2026-01-12T09:01" in cache


def test_warming_computes_every_shared_page_model(sqlite_env: Env) -> None:
    took = warm_pages(sqlite_env.ctx)
    assert set(took) == {name for name, _ in warm_steps(sqlite_env.ctx)}
    for key in ("schedule-page", "quality-charts", "materials-page", "capacity-page:14:14"):
        assert key in sqlite_env.ctx.cache, key
    assert "overview" in sqlite_env.ctx.dashboard.cache


def test_serving_freezes_the_start_up_heap_and_warms_the_pages(sqlite_env: Env) -> None:
    app = sqlite_env.app
    assert gc.get_freeze_count() == 0

    before = gc.get_threshold()

    async def serve() -> tuple[int, tuple[int, int, int]]:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count(), gc.get_threshold()

    frozen, thresholds = asyncio.run(serve())
    assert frozen > 10_000  # the imported code and the composed app
    assert thresholds == (max(YOUNG_THRESHOLD, before[0]), *before[1:])
    assert gc.get_freeze_count() == 0  # handed back on shutdown
    assert gc.get_threshold() == before
    assert "overview" in sqlite_env.ctx.dashboard.cache  # the warm-up ran before shutdown


def test_a_new_orders_work_shows_on_the_lists_and_overview_at_once(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    before = planner.get("/api/v1/work-orders").json()  # now shared for 15 s
    overview = planner.get("/api/v1/overview").json()
    r = planner.post("/api/v1/orders", json=order_body(notes="shown at once"))
    assert r.status_code == 201, r.text
    after = planner.get("/api/v1/work-orders").json()
    assert after["total"] == before["total"] + 1
    assert r.json()["id"] in {w["order"] for w in after["items"]}
    counts = planner.get("/api/v1/overview").json()["order_counts"]
    assert counts["released"] == overview["order_counts"]["released"] + 1
