"""Time helpers. Outside solvers every datetime is timezone-aware UTC; inside solvers, integer
seconds (or minutes) from a plan origin."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from microfactory.core.errors import ValidationError


def utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime; naive datetimes are rejected, not guessed."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValidationError(f"datetime {dt.isoformat()} has no timezone; give UTC explicitly")
    return dt.astimezone(UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp ("2026-01-02T03:04:05Z" or with an offset) into aware UTC."""
    if not isinstance(text, str) or not text:
        raise ValidationError("timestamp must be a non-empty RFC 3339 string")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"not an RFC 3339 timestamp: {text!r}") from exc
    if dt.tzinfo is None:
        raise ValidationError(f"timestamp {text!r} has no timezone offset")
    return dt.astimezone(UTC)


def to_rfc3339(dt: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a trailing Z."""
    return utc(dt).isoformat().replace("+00:00", "Z")


def to_epoch_s(dt: datetime) -> float:
    return utc(dt).timestamp()


def from_epoch_s(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (ValueError naming it when unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = "use an IANA name, e.g. Europe/Berlin"
        raise ValueError(f"unknown time zone {name!r} ({hint})") from None


def local_text(dt: datetime | None, timezone: str = "UTC", *, seconds: bool = False) -> str:
    """A time as people at the site read it: `2026-01-12 12:19 CET` in the site's zone
    (storage and every API stay UTC). "—" for no time."""
    if dt is None:
        return "—"
    local = utc(dt).astimezone(zone(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
