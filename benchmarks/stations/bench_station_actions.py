"""Latency of the operator terminal's actions under concurrent operators, over a demo
database, on loopback: each operator takes a planned operation, opens its station page,
starts the operation (form POST), pauses `--think-ms` (±50 %), finishes it with good and
scrap parts, pauses, and takes the next; operators start at random moments within the first
two think times (all pressing at the same instant measures SQLite's writer queue instead).
Half the operators use the station terminal's forms (`/stations/{machine}/operations/{op}/
start|finish`, session cookie + CSRF field), the other half the API's
`POST /api/v1/operations/{op}/start|finish` (bearer token): the same event path, so the API
is the peer the terminal is compared with, in the same run.

    python benchmarks/stations/bench_station_actions.py --db sqlite:////tmp/demo30.db

With `--viewers N`, N more clients (a planner's session) read the dashboard's pages
(`VIEWER_PAGES`, one at random) with the same think time while the operators work: the shop
owner's screens during a busy shift; their latency is reported as "dashboard page".

The database is copied first (it gains an operator and a new plan). The server runs as a
separate process (uvicorn, one worker, as `microfactory serve` runs it). Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "station load passphrase 1"
SERVER = """
import sys, uvicorn
from microfactory.bootstrap import bootstrap
from microfactory.api.composition import build_app
container = bootstrap(db_url=sys.argv[1], migrate=False)
uvicorn.run(build_app(container), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def prepare(db: str, workdir: Path) -> str:
    target = workdir / "bench.db"
    shutil.copyfile(Path(db.removeprefix("sqlite:///")), target)
    return f"sqlite:///{target}"


def make_credentials(url: str, extra_orders: int) -> str:
    """Users and a token; `extra_orders` more orders (copies of the demo's latest, due in
    two weeks, released) so that the plan holds enough operations for the whole run."""
    from datetime import timedelta

    from microfactory.api.composition import build_context
    from microfactory.bootstrap import bootstrap
    from microfactory.orders import OrderStatus
    from microfactory.services.dashboard import take_order
    from microfactory.services.orders import OrderRequest

    container = bootstrap(db_url=url)
    try:
        ctx = build_context(container)
        if ctx.auth.store.user_by_name("benchop") is None:
            ctx.auth.add_user("benchop", PASSWORD, "operator")
        if ctx.auth.store.user_by_name("benchplan") is None:
            ctx.auth.add_user("benchplan", PASSWORD, "planner")
        token, _ = ctx.auth.issue_token("benchop", "benchmark")
        with ctx.uow() as tx:
            done = tx.orders.find(status=[OrderStatus.DONE], limit=1000)
        models = done[-max(1, min(extra_orders, len(done))) :] if done else []
        due = ctx.clock.now() + timedelta(days=14)
        for k in range(extra_orders if models else 0):
            model = models[k % len(models)]
            take_order(
                ctx.uow,
                ctx.clock,
                OrderRequest(model.customer, model.lines, due, notes="station benchmark"),
                True,
            )
        return token
    finally:
        container.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def planned_operations(base: str) -> list[tuple[str, str]]:
    """(operation, machine) of the plan's first steps not started yet (a fresh replan)."""
    with httpx.Client(base_url=base, timeout=120) as c:
        r = c.post("/api/v1/auth/login", json={"username": "benchplan", "password": PASSWORD})
        r.raise_for_status()
        headers = {"X-CSRF-Token": r.json()["csrf_token"]}
        c.post("/api/v1/plans/replan", json={"reason": "benchmark"}, headers=headers)
        rows = c.get("/api/v1/plans/current").json()["operations"]
    rows = [r for r in rows if not r.get("frozen")]
    return [(r["operation"], r["machine"]) for r in sorted(rows, key=lambda r: r["start"])]


VIEWER_PAGES = ["/", "/schedule", "/capacity", "/orders", "/maintenance", "/quality", "/machines"]
"""What the viewers read (`--viewers`): the dashboard's pages an owner keeps open."""


def login(base: str, user: str = "benchop") -> tuple[dict[str, str], str]:
    """The terminal operators' session (cookies, CSRF token), opened before the clock runs:
    fifty argon2 logins at once are the login's cost (seconds of CPU), not a station's."""
    with httpx.Client(base_url=base, timeout=120) as c:
        r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        r.raise_for_status()
        return dict(c.cookies), r.json()["csrf_token"]


def warm_up(base: str, token: str, op: tuple[str, str]) -> float:
    """One start and finish before measuring: the first event after the demo's last one makes
    the reactor run its once-per-interval work (predictive maintenance over the gap)."""
    began = time.perf_counter()
    with httpx.Client(base_url=base, timeout=300) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        c.post(f"/api/v1/operations/{op[0]}/start", json={})
        c.post(f"/api/v1/operations/{op[0]}/finish", json={"good": 1})
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


async def operator(
    base: str,
    token: str,
    session: tuple[dict[str, str], str],
    terminal: bool,
    work: list[tuple[str, str]],
    stop_at: float,
    think_s: float,
    samples: dict[str, list[float]],
    outcomes: dict[str, int],
    seed: int,
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        if terminal:  # a session the operator opened at shift start: not measured
            c.cookies.update(session[0])
            csrf = session[1]
        else:
            c.headers["Authorization"] = f"Bearer {token}"

        async def timed(name: str, method: str, url: str, **kw: Any) -> httpx.Response:
            began = time.perf_counter()
            r = await c.request(method, url, **kw)
            samples.setdefault(name, []).append((time.perf_counter() - began) * 1000.0)
            key = f"{name} {r.status_code}"
            outcomes[key] = outcomes.get(key, 0) + 1
            return r

        # operators do not press at the same instant: each starts within the first 2 think times
        await asyncio.sleep(rng.uniform(0.0, 2.0 * think_s))
        while time.perf_counter() < stop_at and work:
            op, machine = work.pop()
            if terminal:
                await timed("terminal page", "GET", f"/stations/{machine}")
                base_url = f"/stations/{machine}/operations/{op}"
                form = {"csrf_token": csrf}
                await timed("terminal start", "POST", f"{base_url}/start", data=form)
            else:
                await timed("api start", "POST", f"/api/v1/operations/{op}/start", json={})
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))
            if terminal:
                await timed(
                    "terminal finish",
                    "POST",
                    f"{base_url}/finish",
                    data={"good": "1", "scrap": "0", "csrf_token": csrf},
                )
            else:
                await timed(
                    "api finish", "POST", f"/api/v1/operations/{op}/finish", json={"good": 1}
                )
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))


async def viewer(
    base: str,
    session: tuple[dict[str, str], str],
    stop_at: float,
    think_s: float,
    samples: dict[str, list[float]],
    outcomes: dict[str, int],
    seed: int,
) -> None:
    rng = random.Random(1000 + seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        c.cookies.update(session[0])
        await asyncio.sleep(rng.uniform(0.0, 2.0 * think_s))
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            r = await c.get(rng.choice(VIEWER_PAGES))
            samples.setdefault("dashboard page", []).append((time.perf_counter() - began) * 1000.0)
            key = f"dashboard page {r.status_code}"
            outcomes[key] = outcomes.get(key, 0) + 1
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="a demo database (sqlite:///FILE)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    parser.add_argument(
        "--extra-orders",
        type=int,
        default=150,
        help="orders added before the replan, so that operators do not run out of work",
    )
    parser.add_argument(
        "--viewers", type=int, default=0, help="dashboard readers beside the operators"
    )
    args = parser.parse_args()
    if args.viewers < 0:
        parser.error("--viewers ≥ 0")
    if args.clients < 1 or args.seconds <= 0 or args.think_ms < 0 or args.extra_orders < 0:
        parser.error("--clients ≥ 1, --seconds > 0, --think-ms ≥ 0, --extra-orders ≥ 0")
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare(args.db, Path(tmp))
        token = make_credentials(url, args.extra_orders)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)])
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/login", timeout=1.0)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("server did not start") from None
                    time.sleep(0.2)
            ops = planned_operations(base)
            warm_up(base, token, ops.pop(0))
            session = login(base)
            planner = login(base, "benchplan")
            terminal_ops = ops[0::2][::-1]
            api_ops = ops[1::2][::-1]
            samples: dict[str, list[float]] = {}
            outcomes: dict[str, int] = {}
            load_before = round(os.getloadavg()[0], 1)
            print(
                f"measuring {args.clients} operators for {args.seconds:g} s "
                f"(server pid {server.pid})",
                file=sys.stderr,
                flush=True,
            )
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            stop_at = started + args.seconds

            async def run() -> None:
                await asyncio.gather(
                    *(
                        operator(
                            base,
                            token,
                            session,
                            k % 2 == 0,
                            terminal_ops if k % 2 == 0 else api_ops,
                            stop_at,
                            args.think_ms / 1000.0,
                            samples,
                            outcomes,
                            k,
                        )
                        for k in range(args.clients)
                    ),
                    *(
                        viewer(
                            base,
                            planner,
                            stop_at,
                            args.think_ms / 1000.0,
                            samples,
                            outcomes,
                            k,
                        )
                        for k in range(args.viewers)
                    ),
                )

            asyncio.run(run())
            elapsed = time.perf_counter() - started
            cpu_after = cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    result = {
        "benchmark": "station-actions",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        "clients": args.clients,
        "viewers": args.viewers,
        "think_ms": args.think_ms,
        "seconds": round(elapsed, 1),
        "extra_orders": args.extra_orders,
        "operations_available": len(ops) + 1,
        "operations_left": len(terminal_ops) + len(api_ops),
        "load_before": load_before,
        "outcomes": outcomes,
        # the server's own CPU per measured request: what the load on a shared machine
        # cannot inflate (waiting for a core is not CPU time)
        "server_cpu_ms_per_request": None
        if cpu_before is None or cpu_after is None
        else round(1000.0 * (cpu_after - cpu_before) / max(1, sum(outcomes.values())), 1),
        "per_action": {
            name: {
                "n": len(v),
                "p50_ms": round(percentile(v, 50), 1),
                "p95_ms": round(percentile(v, 95), 1),
                "p99_ms": round(percentile(v, 99), 1),
                "max_ms": round(max(v), 1),
            }
            for name, v in sorted(samples.items())
        },
        "goal_p95_ms": 150,
    }
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
