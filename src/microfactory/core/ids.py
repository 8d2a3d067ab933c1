"""Identifiers: short sortable ids for records, unguessable tokens for links."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable


def new_id(prefix: str = "") -> str:
    """A time-ordered unique id (48-bit ms timestamp + 80 random bits), hex, with a prefix."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    body = f"{ms:012x}{rand:020x}"
    return f"{prefix}{body}" if not prefix else f"{prefix}-{body}"


def new_token(nbytes: int = 24) -> str:
    """An unguessable URL-safe token (for tracking links and API tokens)."""
    return secrets.token_urlsafe(nbytes)


def serial_id(prefix: str, n: int, width: int = 5) -> str:
    """A short readable id people say aloud and type: ``SO-00042``."""
    return f"{prefix}-{n:0{width}d}"


def next_serial_id(prefix: str, taken: Callable[[str], bool], width: int = 5) -> str:
    """The next free ``PREFIX-00001``-style id. Ids are handed out in order, so the taken
    ones form a run from 1: a doubling search then a bisection finds its end in O(log n)
    look-ups; the id returned is always one `taken` said is free."""
    if not taken(serial_id(prefix, 1, width)):
        return serial_id(prefix, 1, width)
    lo = 1
    while taken(serial_id(prefix, lo * 2, width)):
        lo *= 2
    hi = lo * 2  # taken(lo), not taken(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if taken(serial_id(prefix, mid, width)):
            lo = mid
        else:
            hi = mid
    return serial_id(prefix, hi, width)
