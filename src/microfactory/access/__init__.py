"""Access domain: roles, permissions, users, sessions, API tokens and audit records. Pure
data (core imports only), shared by the auth services and the store adapter."""

from microfactory.access.model import (
    ROLE_PERMISSIONS,
    ApiToken,
    AuditRecord,
    Permission,
    Role,
    Session,
    StoredUser,
    User,
)

__all__ = [
    "ROLE_PERMISSIONS",
    "ApiToken",
    "AuditRecord",
    "Permission",
    "Role",
    "Session",
    "StoredUser",
    "User",
]
