"""Two `plan` processes at once (issue 22): the second used to die with an IntegrityError
(both released the same orders / took the same version number). Planning now holds a lock
across every process of the database: a PostgreSQL advisory lock, a file lock beside a
SQLite file. Real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.core.clock import SystemClock
from microfactory.core.errors import Conflict
from microfactory.orders import Order, OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.planning import PlanningSettings
from microfactory.store.locks import PLANNING_LOCK, DatabaseLock
from microfactory.store.planning_sql import SqlPlanStore

HOLD_LOCK = """
import sys
from microfactory.bootstrap import bootstrap
from microfactory.store.locks import PLANNING_LOCK, DatabaseLock
container = bootstrap(db_url=sys.argv[1], migrate=False)
with DatabaseLock(container.engine, PLANNING_LOCK).hold():
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
container.close()
"""


def seed(url: str, orders: int = 40) -> None:
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, DEMO_FACTORY)
        now = datetime.now(UTC)
        with container.uow() as tx:
            for n in range(orders):
                line = OrderLine("bracket", 4, {"colour": "white", "length_mm": 90.0})
                tx.orders.add(Order(f"SO-{n}", "acme", (line,), now + timedelta(days=3), now))
            tx.commit()
    finally:
        container.close()


# `microfactory plan` through the real entry point, started once its imports are done and
# the test says go: both processes then plan at the same moment, not seconds apart.
PLAN_ON_GO = """
import sys
from microfactory.cli.main import main
import microfactory.cli.planning, microfactory.planning.solver, microfactory.services.planning
sys.argv = ["microfactory", "plan", "--db", sys.argv[1], "--time-limit", "2", "--workers", "1",
            "--json"]
sys.stdin.readline()
main()
"""


def plan_process(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PLAN_ON_GO, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_plan_processes_at_once_both_store_a_version(db_url: str) -> None:
    seed(db_url)
    with plan_process(db_url) as first, plan_process(db_url) as second:
        procs = [first, second]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.flush()
        results = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "IntegrityError" not in err
    versions = sorted(json.loads(out)["version"] for out, _ in results)
    assert versions == [1, 2]
    container = bootstrap(db_url=db_url, migrate=False)
    try:
        assert [v["version"] for v in SqlPlanStore(container.engine).versions()] == [1, 2]
        with container.uow() as tx:
            work_orders = tx.work_orders.find()
        assert sorted(wo.order for wo in work_orders) == sorted(f"SO-{n}" for n in range(40))
    finally:
        container.close()


def test_a_plan_waits_for_another_process_and_gives_up_with_conflict(db_url: str) -> None:
    seed(db_url, orders=1)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        container = bootstrap(db_url=db_url, migrate=False)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            settings = PlanningSettings(time_limit=1.0, workers=1, lock_wait_s=0.3)
            service = container.planning(settings, SystemClock())
            with pytest.raises(Conflict, match="busy"):
                service.plan()
            with container.uow() as tx:  # nothing was released while the other held it
                assert tx.work_orders.find() == []
            assert holder.stdin is not None
            holder.stdin.close()
            assert holder.wait(timeout=60) == 0
            assert service.plan().version == 1  # free again
        finally:
            if holder.poll() is None:
                holder.kill()
            container.close()


def test_the_lock_is_reentrant_within_a_thread(sqlite_url: str) -> None:
    container = bootstrap(db_url=sqlite_url)
    try:
        lock = DatabaseLock(container.engine, PLANNING_LOCK)
        with lock.hold(0.1), lock.hold(0.1):
            pass
    finally:
        container.close()
