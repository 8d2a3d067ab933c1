"""The print farm end to end, with nothing standing in: real OctoPrint servers (virtual
printers), PrusaSlicer, the `microfactory` CLI and the `microfactory run` runtime as a
subprocess. A model is quoted and accepted, the plan puts it on an OctoPrint printer, the
runtime slices, uploads and starts it, the virtual printer prints it, and the events come back
through the event path. Plus: a wrong spool keeps the job off a printer; a print cancelled at
the printer is retried; a runtime killed mid-print adopts the job on restart."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh

from conftest import IN_CI
from microfactory.bootstrap import bootstrap
from microfactory.cli.main import main
from microfactory.services.factory import current_factory, init_factory
from microfactory.services.loop_summary import oee_from_events, planned_run_times
from microfactory.shopfloor.events import JobEvent, PartCounter
from microfactory.shopfloor.printers import JobState
from microfactory.store.printfarm_tables import SqlPrintFarmStore
from microfactory.store.telemetry_tables import SqlTelemetryStore
from printfarm.conftest import farm_factory, key_env
from printfarm.octoprint_server import OctoPrintServer

pytestmark = pytest.mark.slow


def cli(db: str, *args: str) -> str:
    """A `microfactory` command, run in-process through the CLI's own entry point (what the
    console script calls): the same parsing, services and JSON output as a user's shell gets,
    without a Python start-up per command. `microfactory run`, the runtime under test, stays
    a subprocess of its own (it is killed and restarted)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["microfactory", *args, "--db", db]
    saved = sys.argv
    sys.argv = argv
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    assert code == 0, f"microfactory {' '.join(args)}: {err.getvalue()}"
    return out.getvalue()


class Farm:
    """A database with the farm factory on real OctoPrint servers, and `microfactory run`."""

    def __init__(self, db: str, servers: list[OctoPrintServer], tmp: Path) -> None:
        self.db = db
        self.tmp = tmp
        self.servers = {f"p{i + 1}": s for i, s in enumerate(servers)}
        self.env = dict(os.environ)
        for machine, server in self.servers.items():
            self.env[key_env(machine)] = server.api_key
        container = bootstrap(db_url=db)
        init_factory(
            container.uow,
            farm_factory(tmp / "farm.yaml", {m: s.url for m, s in self.servers.items()}),
        )
        container.close()
        self.runtime: subprocess.Popen[str] | None = None

    def operation(self, operation: str) -> dict[str, Any]:
        """The operation as `orders show --json` gives it (the reactor's work)."""
        order = json.loads(cli(self.db, "orders", "show", operation.split("-1-")[0], "--json"))
        return next(
            op for wo in order["work_orders"] for op in wo["operations"] if op["id"] == operation
        )

    def order(self, size: tuple[float, float, float]) -> str:
        """Quote a box and accept the quote (which plans); return the print operation."""
        model = self.tmp / f"box-{'x'.join(f'{v:g}' for v in size)}.stl"
        trimesh.creation.box(size).export(model)
        quote = json.loads(
            cli(self.db, "quote", str(model), "-m", "pla-black", "--customer", "acme", "--json")
        )
        accepted = cli(self.db, "quote", "accept", quote["quote_id"], "--json")
        return f"{json.loads(accepted)['order_id']}-1-1"

    def planned_on(self, operation: str) -> str:
        plan = json.loads(cli(self.db, "plan", "show", "--json"))
        return next(op["machine"] for op in plan["operations"] if op["operation"] == operation)

    def ready(self, machine: str, material: str = "pla-black", grams: float = 500) -> None:
        cli(self.db, "printers", "load", machine, "--material", material, "--grams", str(grams))
        cli(self.db, "printers", "plate-clear", machine)

    def status(self) -> dict[str, dict[str, Any]]:
        rows = json.loads(cli(self.db, "printers", "status", "--json"))
        return {r["machine"]: r for r in rows}

    def start(self) -> None:
        assert self.runtime is None
        args = [sys.executable, "-m", "microfactory", "run", "--db", self.db, "--poll-s", "0.5"]
        args += ["--gcode-cache", str(self.tmp / "gcode"), "--plan-time-limit", "2"]
        self.runtime = subprocess.Popen(
            args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        assert self.runtime is not None
        self.runtime.send_signal(sig)
        out, err = self.runtime.communicate(timeout=60)
        code = self.runtime.returncode
        self.runtime = None
        return code, out, err

    def jobs(self, operation: str) -> list[Any]:
        container = bootstrap(db_url=self.db, migrate=False)
        try:
            with SqlPrintFarmStore(container.engine).transaction() as tx:
                return tx.jobs(operation=operation)
        finally:
            container.close()

    def wait(self, test: Callable[[], bool], what: str, timeout: float = 150.0) -> None:
        deadline = time.monotonic() + timeout
        while not test():
            if self.runtime is not None and self.runtime.poll() is not None:
                _, err = self.runtime.communicate()
                raise AssertionError(f"the runtime exited while waiting for {what}: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; printers: {self.status()}")
            time.sleep(0.5)

    def octoprint(self, machine: str) -> httpx.Client:
        server = self.servers[machine]
        return httpx.Client(base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=10)

    def close(self) -> None:
        if self.runtime is not None and self.runtime.poll() is None:
            self.runtime.kill()
            self.runtime.communicate()


@pytest.fixture
def prusa() -> None:
    import shutil

    if shutil.which("prusa-slicer") is None:
        message = "prusa-slicer is not installed (scripts/ensure-test-services.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def farm(
    prusa: None, octoprint_pair: list[OctoPrintServer], tmp_path: Path, sqlite_url: str
) -> Iterator[Farm]:
    farm = Farm(sqlite_url, octoprint_pair, tmp_path)
    yield farm
    farm.close()


def state_of(farm: Farm, operation: str) -> list[JobState]:
    return [j.state for j in farm.jobs(operation)]


def stored_job_events(db: str, operation: str) -> list[str]:
    container = bootstrap(db_url=db, migrate=False)
    try:
        events = SqlTelemetryStore(container.engine).events(kind="job", limit=10_000)
    finally:
        container.close()
    return [e.action for e in events if isinstance(e, JobEvent) and e.operation == operation]


def test_a_quoted_model_is_printed_on_an_octoprint_printer(farm: Farm) -> None:
    op = farm.order((10, 10, 2))
    printer = farm.planned_on(op)
    farm.ready(printer)
    for other in set(farm.servers) - {printer}:
        farm.ready(other)
    farm.start()
    farm.wait(lambda: JobState.FINISHED in state_of(farm, op), "the print to finish")
    code, out, err = farm.stop()
    assert code == 0, err
    counters = json.loads(out.strip().splitlines()[-1])
    assert counters["stopped"] is True and counters["finished"] == 1 and counters["sliced"] >= 1
    assert counters["events"]["applied"] >= 2 and counters["events"]["rejected"] == 0
    (job,) = farm.jobs(op)
    assert job.machine == printer and job.attempt == 1
    # the reactor applied the job events: the order's operation is done, with its part
    done = farm.operation(op)
    assert (done["status"], done["machine"], done["good"]) == ("done", printer, 1)
    assert done["actual_start"] is not None and done["actual_end"] is not None
    # the job's life came back through the event path and was stored by the ingester
    assert stored_job_events(farm.db, op) == ["started", "finished"]
    container = bootstrap(db_url=farm.db, migrate=False)
    try:
        reader = SqlTelemetryStore(container.engine)
        counts = [e for e in reader.events(kind="counter", limit=100) if isinstance(e, PartCounter)]
        assert [(c.machine, c.good) for c in counts] == [(printer, 1)]
        with container.uow() as tx:
            factory = current_factory(tx)
        now = datetime.now(UTC)
        oee = oee_from_events(
            reader,
            planned_run_times(container.uow, factory),
            factory,
            now - timedelta(hours=1),
            now,
        )
        assert oee[printer].gq == 1, "OEE counts the part"
        # the material went out of stock when the reactor applied the finished print: the
        # slicer's grams, against the work order (issued, or a discrepancy if no lot had it)
        with container.uow() as tx:
            moved = tx.stock.movements(work_orders=[job.work_order])
        assert [m.material for m in moved] == ["pla-black"]
        assert moved[0].kind.value in ("issue", "discrepancy")
        assert moved[0].quantity == pytest.approx(job.filament_g / 1000, rel=1e-3)
    finally:
        container.close()
    row = farm.status()[printer]
    assert row["remaining_g"] == pytest.approx(500 - job.filament_g, abs=0.1)
    assert job.filament_g > 0
    assert row["plate_clear"] is False and row["state"] == "idle"
    slices = json.loads(cli(farm.db, "printers", "slices", "--json"))
    assert slices and slices[0]["ok"] and slices[0]["time_variance"] is not None


def test_a_wrong_spool_keeps_the_job_off_that_printer(farm: Farm) -> None:
    op = farm.order((10, 10, 2))
    planned = farm.planned_on(op)
    (other,) = set(farm.servers) - {planned}
    farm.ready(planned, material="pla-white")
    farm.ready(other, material="pla-black")
    farm.start()
    farm.wait(lambda: JobState.FINISHED in state_of(farm, op), "the print to finish elsewhere")
    code, _, err = farm.stop()
    assert code == 0, err
    (job,) = farm.jobs(op)
    assert job.machine == other
    with farm.octoprint(planned) as client:
        assert client.get("/api/job").json()["job"]["file"]["name"] is None, "never started there"
    assert farm.planned_on(op) == other


def test_a_print_cancelled_at_the_printer_is_retried(farm: Farm) -> None:
    op = farm.order((20, 20, 10))
    printer = farm.planned_on(op)
    for machine in farm.servers:
        farm.ready(machine)
    farm.start()
    farm.wait(lambda: JobState.PRINTING in state_of(farm, op), "the print to start")
    with farm.octoprint(printer) as client:  # an operator cancels on the printer
        assert client.post("/api/job", json={"command": "cancel"}).status_code == 204
    farm.wait(lambda: JobState.ABORTED in state_of(farm, op), "the abort to be seen")
    assert "attempt 1 of 3" in farm.status()[printer]["message"]
    cli(farm.db, "printers", "plate-clear", printer)
    # the retry: here again, or where the replan after the abort put it (both plates are
    # clear, so it may start at once and, on a busy machine, print to its end before we look)
    retried = (JobState.PRINTING, JobState.FINISHED)
    farm.wait(
        lambda: len(jobs := farm.jobs(op)) == 2 and jobs[1].state in retried,
        "the retry to print",
    )
    farm.wait(
        lambda: farm.operation(op)["status"] in ("running", "done"), "the retry to be applied"
    )
    code, _, err = farm.stop()
    assert code == 0, err
    events = stored_job_events(farm.db, op)
    assert events[:3] == ["started", "aborted", "started"] and events[3:] in ([], ["finished"])


def test_a_runtime_killed_mid_print_adopts_the_job_on_restart(farm: Farm) -> None:
    op = farm.order((20, 20, 5))
    printer = farm.planned_on(op)
    for machine in farm.servers:
        farm.ready(machine)
    farm.start()
    farm.wait(lambda: JobState.PRINTING in state_of(farm, op), "the print to start")
    code, _, _ = farm.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL
    with farm.octoprint(printer) as client:
        assert client.get("/api/job").json()["state"].startswith("Printing")
    farm.start()
    farm.wait(lambda: JobState.FINISHED in state_of(farm, op), "the adopted print to finish")
    code, _, err = farm.stop()
    assert code == 0, err
    (job,) = farm.jobs(op)
    assert job.attempt == 1, "adopted, not restarted"
    assert stored_job_events(farm.db, op) == ["started", "finished"]
    assert farm.operation(op)["status"] == "done"
