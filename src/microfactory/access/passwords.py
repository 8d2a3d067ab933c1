"""The password policy: at least 10 characters, not one of the ~20,000 passwords most
common in breaches (a list shipped in the package, checked offline), not such a password
with digits or symbols around it, not the username, and not a few characters repeated.

Length and the breach list are what NIST SP 800-63B asks for; there is no rule about
character classes, which makes passwords harder to remember and barely harder to guess."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_DISTINCT = 5
LIST_RESOURCE = "common-passwords.txt.gz"
_AFFIXES = "0123456789!@#$%^&*()-_=+.,;:?'\"~`[]{}<>/\\| "


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (lowercase), read once. See data/common-passwords.NOTICE."""
    blob = resources.files("microfactory").joinpath("data", LIST_RESOURCE).read_bytes()
    return frozenset(gzip.decompress(blob).decode("utf-8").split())


def password_problem(password: str, username: str = "") -> str | None:
    """Why `password` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    common = common_passwords()
    if lowered in common:
        return "password is one of the most common passwords; choose another"
    core = lowered.strip(_AFFIXES)
    if len(core) >= 4 and core != lowered and core in common:
        return "password is a common password with digits or symbols added; choose another"
    name = username.strip().lower()
    if len(name) >= 3 and name in lowered:
        return "password must not contain the username"
    if len(set(password)) < MIN_DISTINCT:
        return f"password must use at least {MIN_DISTINCT} different characters"
    return None
