"""`microfactory users ...` and `serve --help`, run in-process through the real entry point
(`main()`: argument parsing, error → exit-code mapping)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from microfactory.bootstrap import bootstrap
from microfactory.cli.main import main
from microfactory.store.auth_sql import SqlAuthStore


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["microfactory", *args])
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_users_add_then_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code, _, err = run(
        monkeypatch,
        capsys,
        "users",
        "add",
        "alice",
        "--role",
        "planner",
        "--password-stdin",
        "--db",
        db,
        stdin="a long enough passphrase\n",
    )
    assert code == 0, err
    code, out, err = run(
        monkeypatch, capsys, "users", "token", "alice", "--name", "scripts", "--db", db
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("mf_")
    code, out, _ = run(monkeypatch, capsys, "users", "list", "--db", db)
    assert "alice\tplanner\tactive" in out
    container = bootstrap(db_url=db)
    try:
        stored = SqlAuthStore(container.engine).user_by_name("alice")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
    finally:
        container.close()


# Refusals: each row is one broken rule and the message that names it (exit code 2).
REFUSALS = [
    (["--password-stdin"], "short\n", "at least 10 characters"),  # password too short
    (["--role", "root", "--password-stdin"], "a long enough passphrase\n", "unknown role"),
    (["--password-stdin"], "\n", "empty password"),  # nothing typed
    (["--password-stdin"], "password123\n", "most common passwords"),  # in the breach list
    (["--password-stdin"], "Sunshine2024!\n", "common password with digits"),  # dressed up
    (["--password-stdin"], "bob-is-the-boss\n", "must not contain the username"),
]


@pytest.mark.parametrize(("extra", "stdin", "message"), REFUSALS)
def test_users_add_refuses_bad_input_with_exit_code_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    stdin: str,
    message: str,
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code, _, err = run(monkeypatch, capsys, "users", "add", "bob", *extra, "--db", db, stdin=stdin)
    assert code == 2
    assert message in err


def test_serve_help_names_its_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, "serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--db"):
        assert option in out
