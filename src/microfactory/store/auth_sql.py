"""SQLAlchemy implementations of the auth and audit ports. Each call is its own short
transaction: a login or an audit record must not wait for (or roll back with) other work."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from microfactory.access import ApiToken, AuditRecord, Role, Session, StoredUser, User
from microfactory.core.errors import Conflict, NotFound
from microfactory.store.auth_tables import (
    AlertAckRow,
    ApiTokenRow,
    AuditRow,
    LoginFailureRow,
    SessionRow,
    UserRow,
)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        active=row.active,
        created=row.created,
    )


class SqlAuthStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def _db(self) -> DbSession:
        return self.sessions()

    def add_user(self, username: str, password_hash: str, role: Role, at: datetime) -> User:
        with self._db() as s:
            if s.scalars(select(UserRow).where(UserRow.username == username)).first():
                raise Conflict(f"user {username} already exists")
            row = UserRow(
                username=username,
                password_hash=password_hash,
                role=role.value,
                active=True,
                created=at,
            )
            s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                raise Conflict(f"user {username} already exists") from None
            return _user(row)

    def _row(self, s: DbSession, username: str) -> UserRow:
        row = s.scalars(select(UserRow).where(UserRow.username == username)).first()
        if row is None:
            raise NotFound(f"user {username} does not exist")
        return row

    def user_by_name(self, username: str) -> StoredUser | None:
        with self._db() as s:
            row = s.scalars(select(UserRow).where(UserRow.username == username)).first()
            return None if row is None else StoredUser(_user(row), row.password_hash)

    def set_password(self, username: str, password_hash: str) -> None:
        with self._db() as s:
            row = self._row(s, username)
            row.password_hash = password_hash
            s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            s.commit()

    def set_role(self, username: str, role: Role, active: bool) -> User:
        """Conflict when this would leave no active admin. The active admins are locked
        (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers) so two admins
        demoting each other at once cannot both succeed."""
        with self._db() as s:
            row = self._row(s, username)
            stays_admin = role is Role.ADMIN and active
            if row.role == Role.ADMIN.value and row.active and not stays_admin:
                admins = s.scalars(
                    select(UserRow.id)
                    .where(UserRow.role == Role.ADMIN.value, UserRow.active.is_(True))
                    .with_for_update()
                ).all()
                if len(admins) <= 1:
                    raise Conflict(
                        f"{username} is the last active admin; make another user admin first"
                    )
            row.role = role.value
            row.active = active
            if not active:
                s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            s.commit()
            return _user(row)

    def list_users(self) -> list[User]:
        with self._db() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def add_token(self, user_id: int, name: str, digest: str, at: datetime) -> ApiToken:
        with self._db() as s:
            user = s.get(UserRow, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            row = ApiTokenRow(user_id=user_id, name=name, digest=digest, created=at, revoked=False)
            s.add(row)
            s.commit()
            return ApiToken(row.id, user.username, row.name, row.created, row.revoked)

    def user_by_token(self, digest: str) -> User | None:
        with self._db() as s:
            stmt = (
                select(UserRow)
                .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
                .where(ApiTokenRow.digest == digest, ApiTokenRow.revoked.is_(False))
            )
            row = s.scalars(stmt).first()
            return None if row is None else _user(row)

    def list_tokens(self, user_id: int | None = None) -> list[ApiToken]:
        with self._db() as s:
            stmt = select(ApiTokenRow, UserRow.username).join(
                UserRow, ApiTokenRow.user_id == UserRow.id
            )
            if user_id is not None:
                stmt = stmt.where(ApiTokenRow.user_id == user_id)
            return [
                ApiToken(t.id, username, t.name, t.created, t.revoked)
                for t, username in s.execute(stmt.order_by(ApiTokenRow.id))
            ]

    def revoke_token(self, token_id: int) -> None:
        with self._db() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound(f"API token {token_id} does not exist")
            row.revoked = True
            s.commit()

    def add_session(
        self, digest: str, user_id: int, csrf_token: str, at: datetime, expires: datetime
    ) -> None:
        with self._db() as s:
            s.execute(delete(SessionRow).where(SessionRow.expires < at))
            s.add(
                SessionRow(
                    digest=digest,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created=at,
                    expires=expires,
                )
            )
            s.commit()

    def session(self, digest: str, now: datetime) -> Session | None:
        with self._db() as s:
            stmt = (
                select(SessionRow, UserRow)
                .join(UserRow, SessionRow.user_id == UserRow.id)
                .where(SessionRow.digest == digest, SessionRow.expires > now)
            )
            found = s.execute(stmt).first()
            if found is None:
                return None
            srow, urow = found
            return Session(user=_user(urow), csrf_token=srow.csrf_token, expires=srow.expires)

    def delete_session(self, digest: str) -> None:
        with self._db() as s:
            s.execute(delete(SessionRow).where(SessionRow.digest == digest))
            s.commit()


class SqlAuditStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def append(self, record: AuditRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        with self.sessions() as s:
            s.add_all(
                AuditRow(
                    at=record.at,
                    actor=record.actor,
                    role=record.role,
                    action=record.action,
                    outcome=record.outcome,
                    detail=record.detail,
                )
                for record in records
            )
            s.commit()

    def find(
        self, *, actor: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditRecord]:
        stmt = select(AuditRow).order_by(AuditRow.id.desc())
        if actor:
            stmt = stmt.where(AuditRow.actor == actor)
        with self.sessions() as s:
            return [
                AuditRecord(
                    at=r.at,
                    actor=r.actor,
                    role=r.role,
                    action=r.action,
                    outcome=r.outcome,
                    detail=r.detail,
                    id=r.id,
                )
                for r in s.scalars(stmt.limit(limit).offset(offset))
            ]

    def count(self, *, actor: str | None = None) -> int:
        stmt = select(func.count()).select_from(AuditRow)
        if actor:
            stmt = stmt.where(AuditRow.actor == actor)
        with self.sessions() as s:
            return int(s.scalar(stmt) or 0)


class SqlAlertAckStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def acknowledge(self, alert_id: str, source: str, by: str, at: datetime, note: str) -> bool:
        """False when the alert was acknowledged already (the first acknowledgement stays)."""
        with self.sessions() as s:
            if s.get(AlertAckRow, alert_id) is not None:
                return False
            s.add(AlertAckRow(alert_id=alert_id, source=source, by_user=by, at=at, note=note))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True

    def acks(self) -> dict[str, tuple[str, datetime]]:
        with self.sessions() as s:
            return {r.alert_id: (r.by_user, r.at) for r in s.scalars(select(AlertAckRow))}


class SqlLoginAttempts:
    """Failed-login counters in the database, so every worker process and a restart see the
    same backoff. One upsert per key per failure (ON CONFLICT on SQLite and PostgreSQL);
    idle counters are deleted at most once a minute."""

    PRUNE_EVERY_S = 60.0

    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.dialect = engine.dialect.name
        self._pruned = 0.0

    def failures(self, keys: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        stmt = select(LoginFailureRow).where(
            LoginFailureRow.key.in_(list(keys)), LoginFailureRow.last_at >= since
        )
        with self.sessions() as s:
            return {r.key: (r.failures, r.last_at) for r in s.scalars(stmt)}

    def record_failure(self, keys: Sequence[str], at: datetime, reset_before: datetime) -> None:
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        row = LoginFailureRow
        with self.sessions.begin() as s:
            for key in keys:
                stmt = insert(row).values(key=key[:200], failures=1, last_at=at)
                s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["key"],
                        set_={
                            "failures": case(
                                (row.last_at < reset_before, 1), else_=row.failures + 1
                            ),
                            "last_at": at,
                        },
                    )
                )
            if time.monotonic() - self._pruned > self.PRUNE_EVERY_S:
                self._pruned = time.monotonic()
                s.execute(delete(LoginFailureRow).where(LoginFailureRow.last_at < reset_before))

    def clear(self, keys: Sequence[str]) -> None:
        with self.sessions.begin() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
