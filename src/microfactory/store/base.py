"""SQLAlchemy foundation shared by every table module: the declarative `Base`, a UTC-aware
datetime column type, a JSON type, and the engine factory (SQLite in WAL mode by default,
PostgreSQL through psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from microfactory.core.errors import ConnectorError, ValidationError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as psycopg 3 URLs and a plain file path as
    SQLite; reject unknown schemes."""
    if "://" not in url and url.strip():
        url = f"sqlite:///{url}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith(("sqlite://", "postgresql+psycopg://")):
        raise ValidationError(
            f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST:PORT/DB",
            where="--db",
        )
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`: SQLite files get WAL mode, foreign keys and a busy timeout."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


def check_connection(engine: Engine) -> None:
    """Raise ConnectorError with a clear message when the database cannot be reached."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise ConnectorError(f"cannot connect to the database {engine.url!r}: {exc.orig}") from exc


class Binding:
    """Where a store runs its statements: on its own engine (each call is its own
    transaction) or inside a caller's session (the unit of work's transaction, so that what
    the store writes commits or rolls back with everything else in it — the event reactor
    applies an event and moves its cursor this way, exactly once)."""

    def __init__(self, target: Engine | Session) -> None:
        self.engine: Engine | None = target if isinstance(target, Engine) else None
        self.shared: Session | None = None if isinstance(target, Engine) else target

    @property
    def dialect(self) -> Dialect:
        if self.engine is not None:
            return self.engine.dialect
        assert self.shared is not None
        return self.shared.get_bind().dialect

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction that commits when the block ends (on an engine), or
        the shared session's connection (the caller commits)."""
        if self.engine is not None:
            with self.engine.begin() as conn:
                yield conn
        else:
            assert self.shared is not None
            yield self.shared.connection()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads."""
        if self.engine is not None:
            with self.engine.connect() as conn:
                yield conn
        else:
            assert self.shared is not None
            yield self.shared.connection()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """An ORM session: a new one on the engine (committed at the end when `write`), or
        the shared one (flushed at the end when `write`)."""
        if self.engine is not None:
            with Session(self.engine, expire_on_commit=False) as s:
                if write:
                    with s.begin():
                        yield s
                else:
                    yield s
        else:
            assert self.shared is not None
            yield self.shared
            if write:
                self.shared.flush()
