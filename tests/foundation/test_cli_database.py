"""One default database for every command, `--db` as a file path, and a line on the
terminal that says which database a command uses."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import microfactory
from microfactory.cli.database import as_url, describe, resolve_db
from microfactory.core.errors import ValidationError
from microfactory.store.base import normalize_url

SRC = str(Path(microfactory.__file__).resolve().parents[1])


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def run(*args: str, cwd: Path, terminal: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("MICROFACTORY_DATABASE_URL", None)
    if terminal:
        env["TTY_COMPATIBLE"] = "1"  # rich treats stderr as a terminal
    return subprocess.run(
        [sys.executable, "-m", "microfactory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("shop.db", "sqlite:///shop.db"),  # a relative path is SQLite in the current folder
        ("/tmp/x.db", "sqlite:////tmp/x.db"),  # an absolute path keeps its leading slash
        ("sqlite:///a.db", "sqlite:///a.db"),  # a URL stays as it is
        ("postgresql://u@h/db", "postgresql://u@h/db"),  # server URLs are untouched
    ],
)
def test_db_accepts_a_file_path_or_a_url(given: str, url: str) -> None:
    assert as_url(given) == url


def test_an_empty_db_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="--db"):
        as_url("  ")


def test_the_store_treats_a_plain_path_as_sqlite() -> None:
    assert normalize_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_every_command_defaults_to_the_settings_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MICROFACTORY_DATABASE_URL", raising=False)
    assert resolve_db(None) == "sqlite:///microfactory.db"
    monkeypatch.setenv("MICROFACTORY_DATABASE_URL", "/srv/shop.db")
    assert resolve_db(None) == "sqlite:////srv/shop.db"


def test_a_server_url_is_described_without_its_password() -> None:
    text = describe("postgresql+psycopg://mf:secret@db:5432/shop")
    assert "secret" not in text and "db:5432/shop" in text


def test_a_plain_path_works_and_the_terminal_is_told_which_database(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert run("init", "--db", str(db), cwd=tmp_path).returncode == 0
    result = run("factory", "show", "--json", "--db", str(db), cwd=tmp_path, terminal=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["machines"]  # stdout stays pure JSON
    assert f"database: {db.resolve()} (--db)" in plain(result.stderr)


def test_without_db_the_commands_share_one_file(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    result = run("oee", cwd=tmp_path, terminal=True)
    assert f"database: {tmp_path.resolve() / 'microfactory.db'} (default)" in plain(result.stderr)
    assert "no machine events stored yet" in result.stderr  # not a January 2026 window


def test_whatif_refuses_a_database_without_a_demo_run(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    result = run("whatif", "--machine-down", "fdm-01", "--at", "2026-01-06T00:00:00Z", cwd=tmp_path)
    assert result.returncode != 0
    assert "holds no demo run" in result.stderr


def test_the_demo_does_not_reset_a_default_database_holding_own_orders(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    added = run(
        "orders",
        "add",
        "--customer",
        "acme",
        "--product",
        "bracket",
        "--quantity",
        "2",
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    result = run("demo", "--days", "1", cwd=tmp_path)
    assert result.returncode != 0
    assert "holds orders of your own" in result.stderr
    listed = run("orders", "list", "--json", cwd=tmp_path)
    assert len(json.loads(listed.stdout)) == 1  # nothing stored was lost


def test_oee_by_day_says_no_data_for_a_day_without_planned_time() -> None:
    from datetime import UTC, datetime

    from microfactory.services.loop_summary import fleet_by_period

    day = ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    assert fleet_by_period({}, [day], empty_as_none=True)[0]["oee"] is None
    assert fleet_by_period({}, [day])[0]["oee"] == 0.0  # the demo summary keeps its numbers
