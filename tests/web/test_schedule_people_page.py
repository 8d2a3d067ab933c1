"""The schedule by person through the ASGI client (no browser): login required, a page
that says there is no plan yet, an unknown version answered 404, and, once planned, a
table row per operator of the demo crew."""

from __future__ import annotations

from api.support import Env
from microfactory.access import Role

from .test_pages import logged_in


def test_the_people_view_needs_a_login(sqlite_env: Env) -> None:
    r = sqlite_env.client().get("/schedule/people")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_without_a_plan_the_people_view_says_so(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    r = c.get("/schedule/people")  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert "No plan yet." in r.text
    assert 'id="people-gantt"' not in r.text


def test_an_unknown_version_is_404(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    assert c.get("/schedule/people?version=999").status_code == 404  # type: ignore[attr-defined]


def test_once_planned_each_operator_has_a_row(sqlite_env: Env) -> None:
    sqlite_env.ctx.planning.plan()
    c, _ = logged_in(sqlite_env, Role.PLANNER)
    r = c.get("/schedule/people")  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert 'id="people-gantt"' in r.text
    for operator in ("anna", "ben", "carla"):  # the demo crew
        assert f'data-operator="{operator}"' in r.text
