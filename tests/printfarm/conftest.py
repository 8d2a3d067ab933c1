"""Print-farm fixtures: real OctoPrint servers (started once per session, reused, reset
between tests), the in-memory fake host, and G-code for the contract tests.

OctoPrint is installed by scripts/setup-octoprint.sh into .venv-octoprint/ (cached). When it
cannot be installed or started the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI
from printfarm.octoprint_server import (
    OctoPrintServer,
    install_octoprint,
    reset,
    start_servers,
)


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: OctoPrint is required)")
    pytest.skip(message)


class OctoPrintPool:
    """Servers started on first use and kept for the session."""

    def __init__(self, executable: Path, root: Path) -> None:
        self.executable = executable
        self.root = root
        self.servers: list[OctoPrintServer] = []

    def get(self, count: int) -> list[OctoPrintServer]:
        if len(self.servers) < count:
            root = self.root / f"batch-{len(self.servers)}"
            self.servers += start_servers(self.executable, root, count - len(self.servers))
        chosen = self.servers[:count]
        for server in chosen:
            if server.process.poll() is not None:
                raise RuntimeError(f"OctoPrint at {server.url} died: {server.tail()}")
            reset(server)
        return chosen

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def octoprint_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintPool]:
    try:
        executable = install_octoprint()
    except RuntimeError as exc:
        _unavailable(str(exc))
        raise
    pool = OctoPrintPool(executable, tmp_path_factory.mktemp("octoprint"))
    yield pool
    pool.close()


@pytest.fixture
def octoprint(octoprint_pool: OctoPrintPool) -> OctoPrintServer:
    """One real OctoPrint with its virtual printer, idle and without files."""
    try:
        return octoprint_pool.get(1)[0]
    except RuntimeError as exc:
        _unavailable(f"OctoPrint did not start: {exc}")
        raise


@pytest.fixture
def octoprint_pair(octoprint_pool: OctoPrintPool) -> list[OctoPrintServer]:
    try:
        return octoprint_pool.get(2)
    except RuntimeError as exc:
        _unavailable(f"OctoPrint did not start: {exc}")
        raise


def gcode(moves: int, *, length_mm: float = 100.0, feed: int = 600) -> bytes:
    """A G-code file of `moves` back-and-forth moves (OctoPrint's virtual printer takes a
    tenth of each move's real time: 100 mm at F600 is 1 s)."""
    lines = ["; microfactory test job", "G21", "G90", "G28", "G1 Z1 F600"]
    for i in range(moves):
        x = length_mm if i % 2 == 0 else 0.0
        lines.append(f"G1 X{x:.1f} Y10 E{i * 0.5 + 0.5:.2f} F{feed}")
    lines.append("M84")
    return ("\n".join(lines) + "\n").encode()


FACTORY = """\
site: {{id: farm, name: Test print farm, timezone: UTC}}
areas:
  - {{id: print, name: Print farm}}
machines:
{machines}
materials:
  - id: pla-black
    kind: filament
    density_g_cm3: 1.24
    cost_per_kg: 22.0
    colour: black
    lots: [{{id: PLA-B-1, quantity_kg: 10}}]
  - id: pla-white
    kind: filament
    density_g_cm3: 1.24
    cost_per_kg: 22.0
    colour: white
    lots: [{{id: PLA-W-1, quantity_kg: 10}}]
products:
  - id: printed-part
    name: Printed part from a quote
    routing:
      - {{seq: 1, name: Print, capability: fdm_print, fixed_minutes: 10, per_unit_minutes: 30}}
customers:
  - {{id: acme, name: ACME}}
"""
PRINTER = """\
  - id: {id}
    type: fdm_printer
    area: print
    capabilities: [fdm_print]
    cost_per_hour: {cost}
    build_volume_mm: [250, 210, 220]
    host: {{type: octoprint, url: "{url}", api_key_env: {env}}}
    profile: fdm-250x210-0.4mm-0.20mm
"""


def farm_factory(path: Path, printers: dict[str, str]) -> Path:
    """A factory file with one OctoPrint printer per (id → url); printer i's key is read from
    the variable TEST_OCTO_KEY_<ID>. Earlier printers are cheaper, so quotes prefer them."""
    machines = "".join(
        PRINTER.format(id=mid, url=url, env=key_env(mid), cost=4.0 + i)
        for i, (mid, url) in enumerate(printers.items())
    )
    path.write_text(FACTORY.format(machines=machines))
    return path


def key_env(machine: str) -> str:
    return f"TEST_OCTO_KEY_{machine.upper().replace('-', '_')}"
