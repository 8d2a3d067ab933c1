"""How the CLI writes times for people at the site: in the site's time zone, to the minute,
in the site's locale (Babel, CLDR data): "Dec 10, 2026, 2:31 PM +0100" for en,
"10.12.2026, 14:31 MEZ" for de. Storage, JSON and the API stay UTC (RFC 3339)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from microfactory.core.timeutil import babel_locale, babel_text, utc, zone

if TYPE_CHECKING:
    from microfactory.bootstrap import Container


def local_time(dt: datetime | None, timezone: str = "UTC", locale: str = "en") -> str:
    """`dt` as people at the site read it; "—" for no time."""
    if dt is None:
        return "—"
    loc = babel_locale(locale) or babel_locale("en")
    return babel_text(utc(dt).astimezone(zone(timezone)), timezone, loc, seconds=False)


def site_format(container: Container) -> tuple[str, str]:
    """(time zone, locale) of the loaded factory's site; UTC and en before `init`."""
    with container.uow() as tx:
        factory = tx.factory.current()
    if factory is None:
        return "UTC", "en"
    return factory.site.timezone, factory.site.locale
