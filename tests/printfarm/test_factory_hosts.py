"""The factory file's printer hosts and slicer profiles: accepted when right, refused with the
field and the reason when wrong; the API key never goes into the file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core import ValidationError
from microfactory.orders.factory_file import factory_from_dict

HOST = {"type": "octoprint", "url": "http://127.0.0.1:5000", "api_key_env": "OCTOPRINT_KEY"}
PROFILE = "fdm-250x210-0.4mm-0.20mm"


def factory_with(**printer: Any) -> dict[str, Any]:
    data = yaml.safe_load(DEMO_FACTORY.read_text())
    data["machines"].append(
        {
            "id": "mk4",
            "type": "fdm_printer",
            "area": "print",
            "capabilities": ["fdm_print"],
            "cost_per_hour": 4.0,
            "build_volume_mm": [250, 210, 220],
            **printer,
        }
    )
    return data  # type: ignore[no-any-return]


def test_a_printer_with_an_octoprint_host_and_a_shipped_profile_is_read() -> None:
    factory = factory_from_dict(factory_with(host=HOST, profile=PROFILE))
    printer = factory.machine_map["mk4"]
    assert printer.host is not None and printer.host.url == "http://127.0.0.1:5000"
    assert printer.host.api_key_env == "OCTOPRINT_KEY"
    assert printer.profile == PROFILE


@pytest.mark.parametrize(
    ("printer", "where", "reason"),
    [
        # a host type nobody drives
        ({"host": {**HOST, "type": "repetier"}, "profile": PROFILE}, ".host", "unknown"),
        # not a URL
        ({"host": {**HOST, "url": "127.0.0.1:5000"}, "profile": PROFILE}, ".host", "http(s)://"),
        # the key itself in the file
        (
            {"host": {**HOST, "api_key": "abc"}, "profile": PROFILE},
            ".host",
            "never put the API key",
        ),
        # a key where the variable's name belongs
        (
            {"host": {**HOST, "api_key_env": "abc-123!"}, "profile": PROFILE},
            ".host",
            "environment variable",
        ),
        # a field that does not exist
        ({"host": {**HOST, "port": 5000}, "profile": PROFILE}, ".host.port", "unknown field"),
        # a host without a slicer profile
        ({"host": HOST}, "", "needs a slicer `profile`"),
        # a profile that is not shipped
        ({"host": HOST, "profile": "no-such-profile"}, ".profile", "unknown profile"),
        # a relative path
        ({"host": HOST, "profile": "../x.ini"}, ".profile", "absolute path"),
    ],
)
def test_a_wrong_host_or_profile_is_refused_with_field_and_reason(
    printer: dict[str, Any], where: str, reason: str
) -> None:
    data = factory_with(**printer)
    index = len(data["machines"]) - 1
    with pytest.raises(ValidationError) as err:
        factory_from_dict(data)
    assert err.value.where is not None and err.value.where.startswith(f"machines[{index}]{where}")
    assert reason in err.value.reason


def test_a_host_on_a_machine_that_is_no_fdm_printer_is_refused() -> None:
    data = factory_with(host=HOST, profile=PROFILE)
    data["machines"][-1]["type"] = "cnc_mill"
    with pytest.raises(ValidationError, match="drives an fdm_printer"):
        factory_from_dict(data)


def test_one_host_cannot_drive_several_printers() -> None:
    data = factory_with(host=HOST, profile=PROFILE, count=3)
    with pytest.raises(ValidationError, match="count: 1"):
        factory_from_dict(data)
