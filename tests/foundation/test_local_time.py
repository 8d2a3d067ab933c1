"""Times for people at the site: their zone, their locale (Babel), to the minute."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from microfactory.cli.display import local_time
from microfactory.shopfloor.machines import Site

T = datetime(2026, 12, 10, 13, 31, 27, 429536, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Dec 10, 2026, 2:31\u202fPM +0100"),  # the default (CLDR: narrow space)
        ("de", "10.12.2026, 14:31 MEZ"),  # day first, 24 h, German zone name
        ("en_GB", "10 Dec 2026, 14:31 CET"),
    ],
)
def test_times_follow_the_site_locale_without_seconds(locale: str, text: str) -> None:
    assert local_time(T, "Europe/Berlin", locale) == text


def test_no_time_is_a_dash() -> None:
    assert local_time(None) == "—"


def test_a_site_defaults_to_english_and_refuses_a_malformed_locale() -> None:
    assert Site("s", "Shop").locale == "en"
    with pytest.raises(ValueError, match="locale"):
        Site("s", "Shop", locale="German")


def test_the_factory_file_reads_the_site_locale(tmp_path: Path) -> None:
    import yaml

    from microfactory.bootstrap import DEMO_FACTORY, read_factory_file

    data = yaml.safe_load(DEMO_FACTORY.read_text())
    data["site"]["locale"] = "de"
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(data))
    assert read_factory_file(path).site.locale == "de"


def test_pages_keep_year_first_for_english_and_use_babel_for_other_locales() -> None:
    from microfactory.core.timeutil import local_text

    assert local_text(T, "Europe/Berlin") == "2026-12-10 14:31 CET"
    assert local_text(T, "Europe/Berlin", seconds=True) == "2026-12-10 14:31:27 CET"
    assert local_text(T, "Europe/Berlin", locale="de") == "10.12.2026, 14:31 MEZ"
    assert local_text(T, "Europe/Berlin", seconds=True, locale="de") == "10.12.2026, 14:31:27 MEZ"
    assert local_text(T, "Europe/Berlin", locale="en_GB") == "10 Dec 2026, 14:31 CET"
    # a locale Babel does not know falls back to the default format, never to a US clock
    assert local_text(T, "Europe/Berlin", locale="xx") == "2026-12-10 14:31 CET"
