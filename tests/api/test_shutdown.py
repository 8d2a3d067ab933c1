"""Shutdown: the web app's threads that work off the request (the station applier, the audit
writer, the caches' background refreshes) end before the database is closed. One that went on
after `Container.close` opened a connection in the engine's fresh pool that nobody closed; the
garbage collector found it later, inside whichever test was running then (a ResourceWarning,
an error under `-W error`: CI failed that way twice)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text

from api.support import make_env
from conftest import PG_ADMIN_URL
from microfactory.services.background import Worker
from microfactory.services.dashboard import TtlCache


def test_a_closed_worker_finishes_its_job_and_runs_no_more() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def job() -> None:
        started.set()
        release.wait(5)
        runs.append(1)

    worker = Worker("test-worker", job, idle_s=30.0)
    worker.poke()
    assert started.wait(5)
    closing = threading.Thread(target=worker.close, args=(5.0,))
    closing.start()
    time.sleep(0.05)
    assert closing.is_alive(), "close returned while the job was still running"
    release.set()
    closing.join(5)
    assert not closing.is_alive() and runs == [1]
    assert not worker.running and worker.closed
    worker.poke()  # after close: no thread, no run
    time.sleep(0.05)
    assert not worker.running and runs == [1]


def test_a_closed_cache_waits_for_its_refresh_and_then_computes_inline() -> None:
    cache = TtlCache(60.0)
    assert cache.get("k", lambda: 1) == 1
    cache.SETTLE_S = 0.0  # the next expire leaves the value no life at all
    cache.expire()
    entered, release = threading.Event(), threading.Event()

    def slow() -> int:
        entered.set()
        release.wait(5)
        return 2

    assert cache.get("k", slow) == 1  # stale value at once, refresh in the background
    assert entered.wait(5)
    threading.Timer(0.2, release.set).start()
    began = time.monotonic()
    cache.close(5.0)
    assert time.monotonic() - began >= 0.15, "close did not wait for the refresh"
    assert cache.get("k", lambda: 3) == 2  # the refresh's value, stored before close ended
    cache.expire()
    refreshes = threading.active_count()
    assert cache.get("k", lambda: 4) == 4  # expired and closed: computed here, no thread
    assert threading.active_count() == refreshes


def _connections(admin_url: str, database: str) -> int:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                {"d": database},
            ).scalar_one()
        return int(count)
    finally:
        admin.dispose()


def test_closing_the_container_waits_for_a_refresh_that_reads_the_database(
    migrated_pg_url: str,
) -> None:
    """A read model refreshed in the background while the app is closed: the refresh ends
    before the engine is disposed, and no connection to the database stays open."""
    database = migrated_pg_url.rsplit("/", 1)[1]
    env_iter = make_env(migrated_pg_url)
    env = next(env_iter)
    ctx, engine = env.ctx, env.container.engine
    entered = threading.Event()

    def slow_read() -> int:
        entered.set()
        time.sleep(0.3)  # the app is being closed meanwhile
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT 1")).scalar_one())

    ctx.cache.get("slow", lambda: 0)
    ctx.cache.SETTLE_S = 0.0
    ctx.cache.expire()
    assert ctx.cache.get("slow", slow_read) == 0  # stale; the refresh runs in the background
    assert entered.wait(5)
    for _ in env_iter:  # the fixture's teardown: closes the app's clients and the container
        pass
    assert "slow" in ctx.cache and ctx.cache.get("slow", lambda: -1) == 1
    time.sleep(0.2)
    assert _connections(PG_ADMIN_URL, database) == 0
