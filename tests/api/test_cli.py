"""`microfactory users ...`: accounts and tokens from the command line (subprocess, as a
user runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from microfactory.bootstrap import bootstrap
from microfactory.store.auth_sql import SqlAuthStore

EXE = str(Path(sys.executable).parent / "microfactory")


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_users_add_then_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    added = run(
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
    assert added.returncode == 0, added.stderr
    token = run("users", "token", "alice", "--name", "scripts", "--db", db)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("mf_")
    container = bootstrap(db_url=db)
    try:
        store = SqlAuthStore(container.engine)
        stored = store.user_by_name("alice")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        assert stored.user.role == "planner"
        assert [t.name for t in store.list_tokens(stored.user.id)] == ["scripts"]
    finally:
        container.close()


def test_users_add_refuses_a_short_password_with_exit_code_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    r = run("users", "add", "bob", "--password-stdin", "--db", db, stdin="short\n")
    assert r.returncode == 2
    assert "at least 10 characters" in r.stderr


def test_serve_help_names_its_options() -> None:
    r = run("serve", "--help")
    assert r.returncode == 0
    for option in ("--host", "--port", "--db"):
        assert option in r.stdout
