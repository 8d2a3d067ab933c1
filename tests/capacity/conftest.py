"""Capacity fixtures: the API's seeded SQLite environment (shared with the API tests)."""

from __future__ import annotations

from api.conftest import sqlite_env, sqlite_template  # noqa: F401  (shared fixtures)
