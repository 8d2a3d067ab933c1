"""`microfactory serve --run`: the shop-floor runtime (printer hosts, dispatch, ingester,
reactor, replans) runs inside the web server's process, and SIGTERM stops both cleanly: the
server answers, the printer host is polled (here one that does not answer, so the printer's
record says so and its state is published), what the runtime published is stored and
applied, and the process exits 0 with the runtime's counters as JSON on stdout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from microfactory.bootstrap import bootstrap
from microfactory.services.factory import init_factory
from printfarm.conftest import farm_factory, key_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_run_drives_the_printers_in_the_server_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'farm.db'}"
    factory = farm_factory(tmp_path / "farm.yaml", {"p1": "http://127.0.0.1:9"})
    env = {**os.environ, key_env("p1"): "test-key", "PYTHONUNBUFFERED": "1"}
    container = bootstrap(db_url=db)  # the setup in-process; `serve --run` is the process
    try:
        init_factory(container.uow, factory)
    finally:
        container.close()
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "microfactory", "serve", "--run", "--poll-s", "0.2"),
            *("--port", str(port), "--db", db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        answered = False
        message = ""
        while time.monotonic() < deadline and not (answered and message):
            time.sleep(0.3)
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    answered = r.status == 200
            except OSError:
                continue
            container = bootstrap(db_url=db, migrate=False)
            try:
                from microfactory.store.printfarm_tables import SqlPrintFarmStore

                with SqlPrintFarmStore(container.engine).transaction() as tx:
                    record = tx.printer("p1")
                message = "" if record is None else record.message
            finally:
                container.close()
        assert answered, "the web server did not answer"
        assert message.startswith("host unreachable"), message
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    counters = json.loads(out.strip().splitlines()[-1])
    assert counters["stopped"] is True and counters["printers"] == 1
    assert counters["polls"] > 0 and counters["events"]["applied"] > 0
    container = bootstrap(db_url=db, migrate=False)
    try:
        with container.uow() as tx:
            assert tx.events.last_position() > 0
            assert tx.reactor.progress("shopfloor").position == tx.events.last_position()
    finally:
        container.close()
