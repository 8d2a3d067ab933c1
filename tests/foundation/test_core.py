from datetime import UTC, datetime, timedelta, timezone

import pytest

from microfactory.core import (
    FixedClock,
    MicrofactoryError,
    NotFound,
    ValidationError,
    new_id,
    new_token,
    parse_rfc3339,
    to_rfc3339,
    utc,
)


def test_parse_rfc3339_accepts_z_and_offsets() -> None:
    assert parse_rfc3339("2026-01-05T06:00:00Z") == datetime(2026, 1, 5, 6, tzinfo=UTC)
    assert parse_rfc3339("2026-01-05T08:00:00+02:00") == datetime(2026, 1, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "yesterday",  # not a timestamp
        "2026-01-05T06:00:00",  # no offset: refuse to guess
        "2026-13-05T06:00:00Z",  # month 13
    ],
)
def test_parse_rfc3339_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_rfc3339(text)


def test_to_rfc3339_round_trips() -> None:
    dt = datetime(2026, 3, 1, 12, 30, 15, tzinfo=timezone(timedelta(hours=1)))
    assert to_rfc3339(dt) == "2026-03-01T11:30:15Z"
    assert parse_rfc3339(to_rfc3339(dt)) == dt


def test_utc_rejects_naive_datetimes() -> None:
    with pytest.raises(ValidationError):
        utc(datetime(2026, 1, 1))


def test_error_tree_has_one_root_and_exit_codes() -> None:
    assert issubclass(ValidationError, MicrofactoryError)
    assert issubclass(NotFound, MicrofactoryError)
    err = ValidationError("must be positive", where="machines[2].cost_per_hour")
    assert str(err) == "machines[2].cost_per_hour: must be positive"
    assert err.exit_code == 2


def test_ids_are_unique_and_prefixed() -> None:
    ids = {new_id("SO") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("SO-") for i in ids)
    assert len(new_token()) >= 32


def test_fixed_clock_never_runs_backwards() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(hours=2))
    assert clock.now() == datetime(2026, 1, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
