"""Time helpers. Outside solvers every datetime is timezone-aware UTC; inside solvers, integer
seconds (or minutes) from a plan origin."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
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


def local_text(
    dt: datetime | None, timezone: str = "UTC", *, seconds: bool = False, locale: str = "en"
) -> str:
    """A time as people at the site read it, in the site's zone (storage and every API stay
    UTC). "—" for no time.

    The default locale `en` writes `2026-01-12 12:19 CET`: year first and a 24-hour clock,
    which no English-speaking shop misreads. Any other locale (the factory file's
    `site.locale`) writes Babel's (CLDR) medium date and short time in that language, e.g.
    `12.01.2026, 12:19 MEZ` for `de`; an unknown locale gets the default format."""
    if dt is None:
        return "—"
    local = utc(dt).astimezone(zone(timezone))
    loc = None if locale in ("", "en") else babel_locale(locale)
    if loc is None:
        return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
    return babel_text(local, timezone, loc, seconds=seconds)


def babel_text(local: datetime, timezone: str, loc: Any, *, seconds: bool) -> str:
    """`local` in Babel's medium date and short (or medium, with seconds) time of `loc`, with
    the zone's short name."""
    from babel.dates import format_date, format_datetime, format_time

    pattern = str(loc.datetime_formats["medium"])
    clock = format_time(local, "medium" if seconds else "short", locale=loc)
    text = pattern.replace("{1}", format_date(local, "medium", locale=loc)).replace("{0}", clock)
    return f"{text} {format_datetime(local, 'z', tzinfo=zone(timezone), locale=loc)}"


@lru_cache(maxsize=16)
def babel_locale(name: str) -> Any:
    """Babel's Locale for `name` (`de`, `de_DE`, `fr-CH`); None when Babel does not know it
    (the default format is used then)."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None
