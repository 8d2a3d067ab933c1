"""Latency of the dashboard's endpoints under 50 concurrent clients, over a 30-day demo
database, on loopback; and the weight of the overview page with all its assets.

Each client requests the dashboard's endpoints in turn, pausing `--think-ms` (±50 %) after
each answer as a dashboard does between refreshes; `--think-ms 0` is a closed loop that
measures saturation throughput instead. The fifty users arrive spread over `--ramp-s`
seconds (default one think time, as users of a shop do not all click in the same
millisecond); `--ramp-s 0` starts all of them at the same instant, a thundering herd whose
first requests queue behind each other (reported apart as `first_second`). The httpx clients
are built before the clock starts.

    python benchmarks/api/bench_dashboard.py --db sqlite:////tmp/demo30.db --seconds 20

The database is copied first (it gains a benchmark user and token). Without --db a 30-day
demo database is built (`microfactory demo --days 30`, a few minutes). The server runs as a
separate process (uvicorn, one worker, as `microfactory serve` runs it); the clients are
asyncio + httpx in this process. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
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

PASSWORD = "load test passphrase 1"  # the password policy refuses one holding the user name
SERVER = """
import sys, uvicorn
from microfactory.bootstrap import bootstrap
from microfactory.api.composition import build_app
container = bootstrap(db_url=sys.argv[1], migrate=False)
uvicorn.run(build_app(container), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def prepare(db: str | None, workdir: Path) -> str:
    target = workdir / "bench.db"
    if db is None:
        subprocess.run(
            [
                str(Path(sys.executable).parent / "microfactory"),
                "demo",
                "--days",
                "30",
                "--db",
                f"sqlite:///{target}",
                "--json",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        source = Path(db.removeprefix("sqlite:///"))
        shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def make_credentials(url: str) -> str:
    from microfactory.api.composition import build_context
    from microfactory.bootstrap import bootstrap

    container = bootstrap(db_url=url)
    try:
        ctx = build_context(container)
        if ctx.auth.store.user_by_name("bench") is None:
            ctx.auth.add_user("bench", PASSWORD, "viewer")
        token, _ = ctx.auth.issue_token("bench", "benchmark")
        return token
    finally:
        container.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PAGES = [
    "/",
    "/schedule",
    "/capacity",
    "/orders",
    "/maintenance",
    "/quality",
    "/materials",
]
"""Dashboard pages (session cookie); `/orders/{id}` and `/machines/{id}` are added from the
data. Every path not under /api/ is a page."""


def endpoints(base: str, token: str, pages: bool = True) -> list[str]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        machines = [m["id"] for m in c.get("/api/v1/machines").json()]
        orders = c.get("/api/v1/orders?limit=1").json()
    order = orders["items"][0]["id"] if isinstance(orders, dict) else orders[0]["id"]
    if pages:
        return [
            *PAGES,
            f"/orders/{order}",
            f"/machines/{machines[0]}",
            "/api/v1/overview",
            "/api/v1/machines",
            "/api/v1/orders?limit=50",
            "/api/v1/work-orders?late=true&limit=50",
            "/api/v1/alerts?open=true",
            "/api/v1/oee",
            f"/api/v1/machines/{machines[1]}/states",
        ]
    return [
        "/api/v1/overview",
        "/api/v1/machines",
        "/api/v1/orders?limit=50",
        "/api/v1/orders?status=in_production&limit=50",
        "/api/v1/work-orders?late=true&limit=50",
        "/api/v1/alerts?open=true",
        "/api/v1/oee",
        f"/api/v1/machines/{machines[0]}",
        f"/api/v1/machines/{machines[1]}/states",
        "/",
    ]


async def client(
    c: httpx.AsyncClient,
    token: str,
    cookie: dict[str, str],
    paths: list[str],
    started: float,
    stop_at: float,
    samples: dict[str, list[float]],
    errors: list[str],
    offset: int,
    think_s: float,
    server_samples: list[float],
    first_second: list[float],
    delay_s: float = 0.0,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with c:
        if delay_s > 0:
            await asyncio.sleep(delay_s)  # this user arrives later in the ramp
        i = offset
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            if not path.startswith("/api/"):
                r = await c.get(path, cookies=cookie)
            else:
                r = await c.get(path, headers=headers)
            dt = (time.perf_counter() - t0) * 1000.0
            if r.status_code >= 400:
                errors.append(f"{path}: {r.status_code}")
            samples.setdefault(path, []).append(dt)
            if t0 - started < 1.0:
                first_second.append(dt)
            timing = r.headers.get("server-timing", "")
            if timing.startswith("app;dur="):
                server_samples.append(float(timing.removeprefix("app;dur=")))
            if think_s > 0:
                # A dashboard asks, shows, asks again: think time with ±50 % jitter.
                await asyncio.sleep(think_s * (0.5 + ((i * 7919) % 1000) / 1000.0))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def page_weight(base: str, cookie: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(base_url=base, cookies=cookie) as c:
        html = c.get("/", headers={"Accept-Encoding": "identity"})
        assets = sorted(set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text)))
        sizes = {"/": len(html.content)}
        for a in assets:
            sizes[a] = len(c.get(a, headers={"Accept-Encoding": "identity"}).content)
    return {"total_bytes": sum(sizes.values()), "requests": len(sizes), "files": sizes}


def login_cookie(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base) as c:
        r = c.post("/api/v1/auth/login", json={"username": "bench", "password": PASSWORD})
        r.raise_for_status()
        return {"mf_session": c.cookies["mf_session"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a demo database (sqlite:///FILE); copied first")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--api-only", action="store_true", help="the earlier request mix: API and overview"
    )
    parser.add_argument("--goal-ms", type=float, default=150.0, help="p95 goal")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=1000.0,
        help="pause after each response (0: closed loop, saturation)",
    )
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=None,
        help="the clients' first requests spread evenly over this many seconds, as users "
        "arrive (default: one think time; 0: all fifty at the same instant)",
    )
    args = parser.parse_args()
    ramp_s = args.think_ms / 1000.0 if args.ramp_s is None else args.ramp_s
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare(args.db, Path(tmp))
        token = make_credentials(url)
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
            cookie = login_cookie(base)
            paths = endpoints(base, token, pages=not args.api_only)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                warm_until = time.perf_counter() + args.warmup
                while time.perf_counter() < warm_until:
                    for p in paths:
                        c.get(p, cookies=cookie)
            samples: dict[str, list[float]] = {}
            server_samples: list[float] = []
            first_second: list[float] = []
            errors: list[str] = []
            clock: dict[str, float] = {}

            async def run() -> None:
                # The clients are built before the clock starts: building an httpx client
                # loads the TLS trust store (tens of ms of CPU, blocking this event loop), and
                # fifty of them built inside the run stalled the first requests of every
                # client by one to two seconds, on the client's side (issue 23).
                clients = [
                    httpx.AsyncClient(base_url=base, timeout=30.0) for _ in range(args.clients)
                ]
                clock["started"] = time.perf_counter()
                stop_at = clock["started"] + args.seconds
                await asyncio.gather(
                    *(
                        client(
                            clients[k],
                            token,
                            cookie,
                            paths,
                            clock["started"],
                            stop_at,
                            samples,
                            errors,
                            k,
                            args.think_ms / 1000.0,
                            server_samples,
                            first_second,
                            ramp_s * k / args.clients,
                        )
                        for k in range(args.clients)
                    )
                )

            asyncio.run(run())
            elapsed = time.perf_counter() - clock["started"]
            weight = page_weight(base, cookie)
        finally:
            server.terminate()
            server.wait(timeout=10)
    every = [v for vs in samples.values() for v in vs]
    result = {
        "benchmark": "api-dashboard",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}",
        "clients": args.clients,
        "think_ms": args.think_ms,
        "ramp_s": ramp_s,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "throughput_rps": round(len(every) / elapsed, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "p50_ms": round(percentile(every, 50), 1),
        "p95_ms": round(percentile(every, 95), 1),
        "p99_ms": round(percentile(every, 99), 1),
        "first_second": {
            "n": len(first_second),
            "p50_ms": round(percentile(first_second, 50), 1) if first_second else None,
            "max_ms": round(max(first_second), 1) if first_second else None,
        },
        "server_p50_ms": round(percentile(server_samples, 50), 1),
        "server_p95_ms": round(percentile(server_samples, 95), 1),
        "server_p99_ms": round(percentile(server_samples, 99), 1),
        "goal_p95_ms": args.goal_ms,
        "p95_over_goal": round(percentile(every, 95) / args.goal_ms, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "endpoints": {
            p: {
                "n": len(v),
                "p50_ms": round(percentile(v, 50), 1),
                "p95_ms": round(percentile(v, 95), 1),
                "p99_ms": round(percentile(v, 99), 1),
                "meets_goal": percentile(v, 95) <= args.goal_ms,
            }
            for p, v in sorted(samples.items())
        },
        "overview_page_weight": weight,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
