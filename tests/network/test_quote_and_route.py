"""Network quote and routing: the hub asks every site; the site with the earliest date is
recommended; a site that does not answer in time is left out and named; the accepted order
is routed to the chosen site while it is offline and the site places and plans it when back."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trimesh

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.main import main
from microfactory.services.factory import init_factory
from microfactory.store import outbox
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.network_tables import SqlHubStore

from .natscluster import NatsCluster
from .support import MF, Proc, binary_stl, wait_for_streams

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]


def _site(tmp_path: Path, site: str) -> str:
    url = f"sqlite:///{tmp_path / site}.db"
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, DEMO_FACTORY)
        outbox.enable(container.engine, site)
    finally:
        container.close()
    # fresh filament on the shelf (the demo factory's opening lots are past their expiry in
    # real time): the promise then depends on capacity, which is what this test compares
    # (the command in-process, through the CLI's entry point: setup, not what is under test)
    receive = ["materials", "receive", "pla-black", "--lot", f"PLA-{site}", "--quantity", "20"]
    saved, sys.argv = sys.argv, ["microfactory", *receive, "--db", url]
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        raise AssertionError(f"materials receive exited {exc.code}: {err.getvalue()}") from None
    finally:
        sys.argv = saved
    return url


def _keep_busy(url: str, model: bytes) -> None:
    """Hold large quotes at the site: their reserved capacity pushes its next promise out.
    Enough of them to book every printer that can print the part: with the demo crew's
    shifts, outside working hours every site's first start is the next shift's, so a site
    with a free printer then would promise the same date."""
    container = bootstrap(db_url=url)
    try:
        service = container.quotes()
        for _ in range(10):
            service.quote_upload(model, "big.stl", material="pla-black", quantity=40)
    finally:
        container.close()


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_network_quote_routes_to_the_earliest_site_which_plans_it(
    server: NatsCluster, pg_url: str, tmp_path: Path
) -> None:
    model = binary_stl(trimesh.creation.box((30, 20, 10)))
    model_file = tmp_path / "part.stl"
    model_file.write_bytes(model)
    hub_engine = make_engine(pg_url)
    upgrade(hub_engine)
    hub = SqlHubStore(hub_engine)
    urls = {s: _site(tmp_path, s) for s in ("site-a", "site-b", "site-c")}
    _keep_busy(urls["site-b"], model)
    nats = server.urls()
    hub_proc = Proc(["network", "hub", "--nats", nats, "--db", pg_url], tmp_path, "hub").start()
    procs = {
        s: Proc(["network", "site", "--site", s, "--nats", nats, "--db", u], tmp_path, s)
        for s, u in urls.items()
    }
    try:
        wait_for_streams(nats)  # the hub creates them
        for p in procs.values():
            p.start()
        _wait(lambda: {s["site"] for s in hub.sites()} == set(urls), 60, "three sites at the hub")
        procs["site-c"].kill()  # known to the hub, but offline

        asked = subprocess.run(
            [
                *MF,
                "network",
                "quote",
                str(model_file),
                "--material",
                "pla-black",
                "--quantity",
                "5",
                "--nats",
                nats,
                "--db",
                pg_url,
                "--deadline",
                "8",
                "--customer",
                "acme",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        result = json.loads(asked.stdout)
        offers = {o["site"]: o for o in result["offers"]}
        assert set(offers) == {"site-a", "site-b"}
        assert [m["site"] for m in result["missing"]] == ["site-c"]
        assert offers["site-a"]["promised_date"] < offers["site-b"]["promised_date"]
        best = result["recommended"]
        assert best["site"] == "site-a"

        procs["site-a"].kill()  # the chosen site goes offline before the order is routed
        routed = subprocess.run(
            [
                *MF,
                "network",
                "route",
                "--site",
                "site-a",
                "--quote",
                best["quote_id"],
                "--customer",
                "acme",
                "--nats",
                nats,
                "--db",
                pg_url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        route = json.loads(routed.stdout)
        time.sleep(2)
        [row] = [r for r in hub.table("routes") if r["id"] == route["route_id"]]
        assert row["status"] == "routed"  # waiting in the durable stream

        procs["site-a"].start()  # back: takes the order, places and plans it
        _wait(
            lambda: (
                next(r for r in hub.table("routes") if r["id"] == route["route_id"])["status"]
                != "routed"
            ),
            90,
            "the routed order's outcome at the hub",
        )
        [row] = [r for r in hub.table("routes") if r["id"] == route["route_id"]]
        assert row["status"] == "placed", row
        order_id = row["order_id"]
        container = bootstrap(db_url=urls["site-a"])
        try:
            plan = container.quotes().plans.current()  # type: ignore[union-attr]
        finally:
            container.close()
        assert plan is not None
        assert any(op.work_order.startswith(order_id) for op in plan.operations)
        _wait(
            lambda: any(o["order_id"] == order_id for o in hub.table("orders", site="site-a")),
            30,
            "the order in the hub's fleet view",
        )
        counters = procs["site-a"].terminate()
        assert counters["routed_orders_placed"] == 1
    finally:
        for p in [*procs.values(), hub_proc]:
            p.kill()
        hub_engine.dispose()
