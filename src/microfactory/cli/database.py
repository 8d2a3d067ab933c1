"""Which database a command uses: one default for every command (MICROFACTORY_DATABASE_URL,
else `microfactory.db` in the current folder), `--db` as a URL or a plain file path (a
path is SQLite), and a line on the terminal that says which one it is."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

DB_HELP = (
    "Database: a file path (SQLite) or a URL (sqlite:///FILE, postgresql://USER@HOST/DB); "
    "default: MICROFACTORY_DATABASE_URL or ./microfactory.db, the same for every command"
)


def as_url(db: str) -> str:
    """`db` as a database URL: a URL stays as it is, a plain path becomes sqlite:///PATH."""
    if "://" in db:
        return db
    if not db.strip():
        from microfactory.core.errors import ValidationError

        raise ValidationError("is empty: give a file path or a database URL", where="--db")
    return f"sqlite:///{Path(db).expanduser()}"


def resolve_db(db: str | None) -> str:
    """The URL a command opens: `--db` when given, else the one default of every command."""
    if db is not None:
        return as_url(db)
    from microfactory.settings import Settings

    return as_url(Settings().database_url)


def describe(url: str) -> str:
    """The database in words: an SQLite file's absolute path, or a server URL without
    its password."""
    if url.startswith("sqlite:///"):
        name = url[len("sqlite:///") :]
        return "in memory (SQLite)" if name in ("", ":memory:") else f"{Path(name).resolve()}"
    if "@" in url and ":" in url.split("://", 1)[1].split("@", 1)[0]:
        scheme, rest = url.split("://", 1)
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}://{user}:***@{rest.split('@', 1)[1]}"
    return url


def announce(url: str, given: bool, console: Console | None = None) -> None:
    """Say on a terminal (stderr, so JSON on stdout stays clean) which database is used."""
    out = console or Console(stderr=True)
    if not out.is_terminal:
        return
    origin = "--db" if given else "default"
    out.print(
        f"database: {describe(url)} ({origin})",
        style="dim",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
