"""The print-farm commands as a user runs them: a real process, a real database, exit codes
and messages that name the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from microfactory.bootstrap import bootstrap
from microfactory.services.factory import init_factory
from printfarm.conftest import farm_factory


def run(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "microfactory", *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def farm_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'farm.db'}"
    factory = farm_factory(
        tmp_path / "farm.yaml", {"p1": "http://127.0.0.1:9", "p2": "http://127.0.0.1:9"}
    )
    container = bootstrap(db_url=db)  # the setup in-process; the commands under test below
    try:  # run as a user's process
        init_factory(container.uow, factory)
    finally:
        container.close()
    return db


def test_status_lists_every_printer_with_the_contract_keys(farm_db: str) -> None:
    done = run(farm_db, "printers", "status", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["machine"] for r in rows] == ["p1", "p2"]
    keys = {"machine", "host", "state", "job", "progress", "time_left_s", "plate_clear"}
    assert keys | {"material", "remaining_g"} <= set(rows[0])
    assert rows[0]["host"] == "http://127.0.0.1:9" and rows[0]["plate_clear"] is False


def test_an_operator_loads_a_spool_and_clears_a_plate(farm_db: str) -> None:
    load = run(farm_db, "printers", "load", "p1", "--material", "pla-white", "--lot", "PLA-W-1")
    assert load.returncode == 0, load.stderr
    clear = run(farm_db, "printers", "plate-clear", "p1", "--by", "anna")
    assert clear.returncode == 0 and "anna" in clear.stderr
    (row,) = [
        r
        for r in json.loads(run(farm_db, "printers", "status", "--json").stdout)
        if r["machine"] == "p1"
    ]
    assert (row["material"], row["lot"], row["remaining_g"], row["plate_clear"]) == (
        "pla-white",
        "PLA-W-1",
        1000.0,
        True,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        # a machine that is not a printer with a host
        (("printers", "plate-clear", "nope"), 3, "not a printer with a host"),
        # a material the factory does not have
        (("printers", "load", "p1", "--material", "unobtainium"), 2, "unknown material"),
        # negative grams
        (("printers", "load", "p1", "--material", "pla-black", "--grams", "-5"), 2, "--grams"),
        # a plate-clearing mode that does not exist
        (("printers", "set", "p1", "--plate-clearing", "robot"), 2, "operator or gcode"),
        # the in-process bus with nobody storing the events
        (("run", "--no-ingest"), 2, "--no-ingest"),
    ],
)
def test_bad_operator_input_is_refused_with_the_reason(
    farm_db: str, args: tuple[str, ...], code: int, message: str
) -> None:
    done = run(farm_db, *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
