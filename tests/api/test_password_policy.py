"""The password policy (issue 22): length, the shipped breach list (offline), a breached
password with digits or symbols around it, the username, too few distinct characters."""

from __future__ import annotations

import pytest

from microfactory.access import Role
from microfactory.access.passwords import common_passwords, password_problem

from .support import Env

REFUSED = [
    # (password, username, words of the reason)
    ("short", "", "at least 10"),  # too short
    ("x" * 1025, "", "at most 1024"),  # too long to hash cheaply
    ("1234567890", "", "most common"),  # top of every breach list
    ("qwertyuiop", "", "most common"),  # a keyboard row
    ("PASSWORD12", "", "most common"),  # case does not help
    ("Sunshine2024!", "", "digits or symbols added"),  # a breached word dressed up
    ("!!football99", "", "digits or symbols added"),  # ... on both sides
    ("dora-the-explorer", "dora", "username"),  # contains the username
    ("abababababab", "", "different characters"),  # two characters repeated
]
ACCEPTED = [
    "correct horse battery",  # a passphrase
    "Tr0ub4dor&3x-ish",  # long and not in the list
    "zebra mug ladder 7",  # words and a digit
]


@pytest.mark.parametrize(("password", "username", "reason"), REFUSED)
def test_weak_password_is_refused_with_the_reason(
    password: str, username: str, reason: str
) -> None:
    problem = password_problem(password, username)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("password", ACCEPTED)
def test_reasonable_password_is_accepted(password: str) -> None:
    assert password_problem(password, "alice") is None


def test_the_shipped_list_is_the_expected_one() -> None:
    words = common_passwords()
    assert len(words) > 19_000
    assert {"123456", "password", "iloveyou", "dragon"} <= words


def test_api_refuses_a_common_password_with_422(sqlite_env: Env) -> None:
    admin = sqlite_env.as_role(Role.ADMIN)
    body = {"username": "newbie", "password": "password1234", "role": "viewer"}
    r = admin.post("/api/v1/users", json=body)
    assert r.status_code == 422
    assert r.json()["where"] == "password"
    r = admin.request("PATCH", "/api/v1/users/viewer", json={"password": "iloveyou12"})
    assert r.status_code == 422
