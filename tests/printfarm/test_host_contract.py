"""The `PrinterHost` contract: the in-memory fake and the OctoPrint adapter against a real
OctoPrint (virtual printer) pass the same tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from microfactory.connect.octoprint import OctoPrintHost
from microfactory.core.errors import Conflict, ConnectorError, NotFound
from microfactory.services.ports import PrinterHost
from microfactory.shopfloor.printers import HostState, PrinterStatus
from printfarm.conftest import OctoPrintPool, gcode
from printfarm.fake_host import FakePrinterHost
from printfarm.octoprint_server import free_port

LONG = gcode(60)  # about a minute on the virtual printer: cancelled long before it ends
SHORT = gcode(3)


@dataclass
class Hosts:
    """A host under test plus ways to reach the same host with a wrong key, and a host that
    does not answer at all."""

    host: PrinterHost
    wrong_key: Callable[[], PrinterHost]
    unreachable: Callable[[], PrinterHost]


@pytest.fixture(params=["fake", "octoprint"])
def hosts(request: pytest.FixtureRequest) -> Iterator[Hosts]:
    if request.param == "fake":
        fake = FakePrinterHost(seconds_per_move=1.0)

        def unreachable_fake() -> PrinterHost:
            other = FakePrinterHost()
            other.reachable = False
            return other

        yield Hosts(fake, lambda: FakePrinterHost(given_key="nope"), unreachable_fake)
        return
    pool: OctoPrintPool = request.getfixturevalue("octoprint_pool")
    server = request.getfixturevalue("octoprint")
    assert pool is not None
    real = OctoPrintHost(server.url, server.api_key, key_source="$TEST_KEY")
    made: list[OctoPrintHost] = [real]

    def wrong() -> PrinterHost:
        made.append(OctoPrintHost(server.url, "0" * 32, key_source="$TEST_KEY"))
        return made[-1]

    def unreachable() -> PrinterHost:
        made.append(OctoPrintHost(f"http://127.0.0.1:{free_port()}", "k", timeout_s=2))
        return made[-1]

    yield Hosts(real, wrong, unreachable)
    for h in made:
        h.close()


def wait_for(
    host: PrinterHost, test: Callable[[PrinterStatus], bool], timeout: float = 60.0
) -> PrinterStatus:
    deadline = time.monotonic() + timeout
    status = host.status()
    while not test(status):
        if time.monotonic() > deadline:
            raise AssertionError(f"host never got there; last status {status}")
        time.sleep(0.2)
        status = host.status()
    return status


def test_an_idle_printer_reports_idle_with_temperatures(hosts: Hosts) -> None:
    status = hosts.host.status()
    assert status.state is HostState.IDLE
    assert {t.heater for t in status.temperatures} >= {"tool0", "bed"}


def test_an_uploaded_file_is_listed_and_removed(hosts: Hosts) -> None:
    name = hosts.host.upload("mf-contract-a.gcode", SHORT)
    assert name == "mf-contract-a.gcode"
    assert name in hosts.host.files()
    hosts.host.remove(name)
    assert name not in hosts.host.files()


def test_removing_or_starting_a_missing_file_is_not_found(hosts: Hosts) -> None:
    with pytest.raises(NotFound):
        hosts.host.remove("mf-never-uploaded.gcode")
    with pytest.raises(NotFound):
        hosts.host.start("mf-never-uploaded.gcode")


def test_a_started_job_prints_and_a_second_start_is_refused_as_busy(hosts: Hosts) -> None:
    name = hosts.host.upload("mf-contract-long.gcode", LONG)
    other = hosts.host.upload("mf-contract-other.gcode", SHORT)
    hosts.host.start(name)
    # OctoPrint reports the progress a moment after the state: wait for both
    status = wait_for(
        hosts.host, lambda s: s.state is HostState.PRINTING and s.progress is not None
    )
    assert status.job == name
    assert status.progress is not None and 0 <= status.progress < 100
    with pytest.raises(Conflict, match="busy"):
        hosts.host.start(other)
    with pytest.raises(Conflict):
        hosts.host.remove(name)
    hosts.host.cancel()
    status = wait_for(hosts.host, lambda s: s.state is HostState.IDLE)
    assert status.job == name
    assert not status.job_done


def test_a_short_job_runs_to_completion(hosts: Hosts) -> None:
    name = hosts.host.upload("mf-contract-short.gcode", SHORT)
    hosts.host.start(name)
    status = wait_for(hosts.host, lambda s: s.job_done)
    assert status.job == name
    assert status.progress == 100


def test_a_job_pauses_and_resumes(hosts: Hosts) -> None:
    name = hosts.host.upload("mf-contract-pause.gcode", LONG)
    hosts.host.start(name)
    wait_for(hosts.host, lambda s: s.state is HostState.PRINTING)
    hosts.host.pause()
    wait_for(hosts.host, lambda s: s.state is HostState.PAUSED)
    hosts.host.resume()
    wait_for(hosts.host, lambda s: s.state is HostState.PRINTING)
    hosts.host.cancel()
    wait_for(hosts.host, lambda s: s.state is HostState.IDLE)


def test_cancelling_with_nothing_printing_is_a_conflict(hosts: Hosts) -> None:
    with pytest.raises(Conflict):
        hosts.host.cancel()
    with pytest.raises(Conflict):
        hosts.host.pause()


def test_a_wrong_api_key_is_a_connector_error_naming_the_key(hosts: Hosts) -> None:
    with pytest.raises(ConnectorError, match="API key"):
        hosts.wrong_key().status()


def test_an_unreachable_host_is_a_connector_error(hosts: Hosts) -> None:
    with pytest.raises(ConnectorError, match="unreachable"):
        hosts.unreachable().status()


def test_an_upload_can_start_the_print_at_once(hosts: Hosts) -> None:
    name = hosts.host.upload("mf-contract-now.gcode", LONG, start=True)
    status = wait_for(hosts.host, lambda s: s.state is HostState.PRINTING)
    assert status.job == name
    with pytest.raises(Conflict):
        hosts.host.upload("mf-contract-later.gcode", SHORT, start=True)
    assert "mf-contract-later.gcode" in hosts.host.files()
    hosts.host.cancel()
    wait_for(hosts.host, lambda s: s.state is HostState.IDLE)
