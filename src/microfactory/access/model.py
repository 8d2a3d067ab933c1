"""Roles and what each may do; users, sessions, API tokens and audit records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PLANNER = "planner"
    OPERATOR = "operator"
    MAINTENANCE = "maintenance"
    QUALITY = "quality"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    ORDERS_WRITE = "orders:write"
    PLANS_WRITE = "plans:write"
    SHOPFLOOR_WRITE = "shopfloor:write"
    MAINTENANCE_WRITE = "maintenance:write"
    QUALITY_WRITE = "quality:write"
    ALERTS_ACK = "alerts:ack"
    QUOTES_READ = "quotes:read"
    QUOTES_WRITE = "quotes:write"
    MATERIALS_WRITE = "materials:write"
    PURCHASING_WRITE = "purchasing:write"
    MASTERDATA_WRITE = "masterdata:write"
    """Edit customers, products and materials (the factory definition) in the dashboard."""
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.PLANNER: frozenset(
        {
            Permission.READ,
            Permission.ORDERS_WRITE,
            Permission.PLANS_WRITE,
            Permission.QUOTES_READ,
            Permission.QUOTES_WRITE,
            Permission.MATERIALS_WRITE,
            Permission.PURCHASING_WRITE,
            Permission.MASTERDATA_WRITE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.READ,
            Permission.SHOPFLOOR_WRITE,
            Permission.ALERTS_ACK,
            Permission.QUOTES_READ,
            Permission.MATERIALS_WRITE,
        }
    ),
    Role.MAINTENANCE: frozenset(
        {
            Permission.READ,
            Permission.MAINTENANCE_WRITE,
            Permission.ALERTS_ACK,
            Permission.QUOTES_READ,
        }
    ),
    Role.QUALITY: frozenset(
        {Permission.READ, Permission.QUALITY_WRITE, Permission.ALERTS_ACK, Permission.QUOTES_READ}
    ),
    Role.VIEWER: frozenset({Permission.READ, Permission.QUOTES_READ}),
}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    active: bool
    created: datetime

    def can(self, permission: Permission) -> bool:
        return self.active and permission in ROLE_PERMISSIONS[self.role]


@dataclass(frozen=True)
class StoredUser:
    user: User
    password_hash: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires: datetime


@dataclass(frozen=True)
class ApiToken:
    id: int
    user: str
    name: str
    created: datetime
    revoked: bool


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    role: str
    action: str
    outcome: int
    detail: str = ""
    id: int | None = None
