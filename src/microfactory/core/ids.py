"""Identifiers: short sortable ids for records, unguessable tokens for links."""

from __future__ import annotations

import os
import secrets
import time


def new_id(prefix: str = "") -> str:
    """A time-ordered unique id (48-bit ms timestamp + 80 random bits), hex, with a prefix."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    body = f"{ms:012x}{rand:020x}"
    return f"{prefix}{body}" if not prefix else f"{prefix}-{body}"


def new_token(nbytes: int = 24) -> str:
    """An unguessable URL-safe token (for tracking links and API tokens)."""
    return secrets.token_urlsafe(nbytes)
