"""`microfactory bench schedule` per DESIGN.md: JSON lines and solution files."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.cli.common import open_container, time_limit_progress
from microfactory.cli.planning import register
from microfactory.core.errors import ValidationError
from microfactory.planning.checker import check_plan
from microfactory.planning.model import Assignment
from microfactory.planning.readers import read_instance
from microfactory.store.planning_sql import SqlPlanStore


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()
    bench = typer.Typer()
    root.add_typer(bench, name="bench")
    register(root, bench)
    return root


def test_bench_schedule_prints_one_json_line_and_a_checkable_solution(
    app: typer.Typer, jssp_dir: Path, tmp_path: Path
) -> None:
    source = jssp_dir / "ft06.txt"
    args = ["bench", "schedule", str(source), "--time-limit", "10", "--json"]
    result = CliRunner().invoke(app, [*args, "--solution-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip())
    assert {"instance", "jobs", "machines", "operations", "makespan", "lower_bound"} <= set(row)
    assert (row["instance"], row["operations"], row["makespan"], row["status"]) == (
        "ft06",
        36,
        55,
        "optimal",
    )
    solution = json.loads((tmp_path / "ft06.json").read_text())
    # recompute the makespan and feasibility from the file alone (0-based job/op indices)
    problem = read_instance(source)
    job_ops = problem.job_ops()
    plan = [
        Assignment(job_ops[o["job"]][o["op"]], o["machine"], o["start"], o["end"])
        for o in solution["operations"]
    ]
    assert check_plan(problem, plan) == []
    assert solution["makespan"] == max(o["end"] for o in solution["operations"]) == 55


def test_bench_schedule_rejects_a_malformed_file(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n0 1 9 2\n")
    result = CliRunner().invoke(app, ["bench", "schedule", str(bad), "--time-limit", "1"])
    assert isinstance(result.exception, ValidationError)
    assert f"{bad}:2" in str(result.exception)


def _seeded_db(url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from microfactory.bootstrap import bootstrap
    from microfactory.orders import Order, OrderLine
    from microfactory.services.factory import init_factory

    container = bootstrap(db_url=url)
    init_factory(container.uow, DEMO_FACTORY)
    now = datetime.now(UTC)
    with container.uow() as tx:
        tx.orders.add(
            Order(
                id="SO-1",
                customer="acme",
                lines=(OrderLine("bracket", 4, {"colour": "white", "length_mm": 90.0}),),
                due=now + timedelta(days=3),
                created=now,
            )
        )
        tx.commit()
    container.close()


def test_plan_then_show_then_gantt_html(app: typer.Typer, sqlite_url: str, tmp_path: Path) -> None:
    _seeded_db(sqlite_url)
    runner = CliRunner()
    planned = runner.invoke(app, ["plan", "--db", sqlite_url, "--time-limit", "3", "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)["version"] == 1
    shown = runner.invoke(app, ["plan", "show", "--db", sqlite_url, "--json"])
    assert shown.exit_code == 0, shown.output
    operations = json.loads(shown.output)["operations"]
    assert operations and {op["work_order"] for op in operations} == {"SO-1-1"}
    out = tmp_path / "plan.html"
    drawn = runner.invoke(app, ["plan", "gantt", "--db", sqlite_url, "--out", str(out)])
    assert drawn.exit_code == 0, drawn.output
    assert "SO-1-1" in out.read_text()


def test_gantt_rejects_an_unknown_file_type(
    app: typer.Typer, sqlite_url: str, tmp_path: Path
) -> None:
    _seeded_db(sqlite_url)
    runner = CliRunner()
    runner.invoke(app, ["plan", "--db", sqlite_url, "--time-limit", "2"])
    result = runner.invoke(
        app, ["plan", "gantt", "--db", sqlite_url, "--out", str(tmp_path / "x.svg")]
    )
    assert isinstance(result.exception, ValidationError)


def test_plan_event_machine_down_is_stored_and_kept_by_the_next_plan(
    app: typer.Typer, sqlite_url: str
) -> None:
    """The only inspection station is down for two days: the re-plan and a later, separate
    `plan` (a new process in real use) both inspect the bracket after it is back."""
    from datetime import UTC, datetime, timedelta

    _seeded_db(sqlite_url)
    runner = CliRunner()
    assert runner.invoke(app, ["plan", "--db", sqlite_url, "--time-limit", "3"]).exit_code == 0
    at = datetime.now(UTC).replace(second=0, microsecond=0)
    until = at + timedelta(days=2)
    args = ["plan", "event", "machine_down", "--machine", "inspect", "--at", at.isoformat()]
    args += ["--until", until.isoformat(), "--reason", "camera", "--db", sqlite_url, "--json"]
    down = runner.invoke(app, args)
    assert down.exit_code == 0, down.output
    summary = json.loads(down.output)
    assert summary["version"] == 2 and summary["reason"] == "machine_down: camera"
    assert summary["downtimes"]["inspect"] == [
        {"start": at.isoformat(), "end": until.isoformat(), "reason": "camera"}
    ]
    for command in (["plan", "show"], ["plan"], ["plan", "show"]):
        result = runner.invoke(app, [*command, "--db", sqlite_url, "--json"])
        assert result.exit_code == 0, result.output
        if command == ["plan", "show"]:
            inspected = [
                op for op in json.loads(result.output)["operations"] if op["machine"] == "inspect"
            ]
            assert inspected
            assert all(datetime.fromisoformat(op["start"]) >= until for op in inspected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explode", "--machine", "cnc"], "unknown event"),
        (["machine_down"], "needs its machine"),
        (["maintenance", "--machine", "cnc", "--at", "2030-01-07T06:00:00Z"], "needs `until`"),
        (["machine_down", "--machine", "cnc", "--at", "yesterday"], "RFC 3339"),
    ],
)
def test_plan_event_rejects_bad_input_and_stores_nothing(
    app: typer.Typer, sqlite_url: str, args: list[str], message: str
) -> None:
    _seeded_db(sqlite_url)
    result = CliRunner().invoke(app, ["plan", "event", *args, "--db", sqlite_url])
    assert isinstance(result.exception, ValidationError)
    assert message in str(result.exception)
    container = open_container(sqlite_url)
    try:
        assert SqlPlanStore(container.engine).downtimes() == {}
    finally:
        container.close()


def test_time_limit_progress_draws_a_bar_on_a_terminal_and_nothing_when_disabled() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    with time_limit_progress(2.0, "planning", output=terminal):
        threading.Event().wait(0.5)  # the ticker moves the bar meanwhile
    assert "planning" in screen.getvalue()
    assert "of 2 s" in screen.getvalue()
    quiet = io.StringIO()
    with time_limit_progress(2.0, "planning", enabled=False, output=Console(file=quiet)):
        pass
    assert quiet.getvalue() == ""
    assert not any(t.name == "time-limit-progress" for t in threading.enumerate())


def test_plan_pin_then_pins_then_unpin(app: typer.Typer, sqlite_url: str) -> None:
    """A printed operation pinned to another printer and a start: the plan, `plan show`
    and `plan pins` say so; `plan unpin` takes it back; a bad pin stores nothing."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    _seeded_db(sqlite_url)
    runner = CliRunner()
    assert runner.invoke(app, ["plan", "--db", sqlite_url, "--time-limit", "3"]).exit_code == 0
    shown = json.loads(runner.invoke(app, ["plan", "show", "--db", sqlite_url, "--json"]).output)
    printed = next(op for op in shown["operations"] if op["machine"].startswith("fdm-0"))
    machine = "fdm-06" if printed["machine"] != "fdm-06" else "fdm-05"
    # 10:00 on the next weekday in the factory's zone: the demo crew (weekday shifts) sets
    # printers up, so a start pinned off shift is rightly refused (no plan keeps it)
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime.now(berlin) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = day.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)
    args = ["plan", "pin", printed["operation"], "--machine", machine, "--start"]
    pinned = runner.invoke(app, [*args, start.isoformat(), "--db", sqlite_url, "--json"])
    assert pinned.exit_code == 0, pinned.output
    assert f"pin {printed['operation']} to {machine}" in json.loads(pinned.output)["reason"]
    shown = json.loads(runner.invoke(app, ["plan", "show", "--db", sqlite_url, "--json"]).output)
    placed = next(op for op in shown["operations"] if op["operation"] == printed["operation"])
    assert (placed["machine"], placed["start"], placed["pinned"]) == (
        machine,
        start.isoformat(),
        True,
    )
    pins = json.loads(runner.invoke(app, ["plan", "pins", "--db", sqlite_url, "--json"]).output)
    assert [(p["operation"], p["machine"]) for p in pins["pins"]] == [
        (printed["operation"], machine)
    ]
    bad = runner.invoke(
        app, ["plan", "pin", printed["operation"], "--machine", "inspect", "--db", sqlite_url]
    )
    assert isinstance(bad.exception, ValidationError)
    unpinned = runner.invoke(app, ["plan", "unpin", printed["operation"], "--db", sqlite_url])
    assert unpinned.exit_code == 0, unpinned.output
    pins = json.loads(runner.invoke(app, ["plan", "pins", "--db", sqlite_url, "--json"]).output)
    assert pins == {"pins": []}
