"""Real OctoPrint servers for the print-farm tests and benchmarks.

OctoPrint is installed from PyPI into its own virtual environment by
scripts/setup-octoprint.sh (it pins its own dependencies, so it cannot share the project's).
Each server runs as a subprocess on a free port with its own base directory: the bundled
virtual printer on serial port VIRTUAL with autoconnect, the first-run wizard done, one user
whose API key the tests use, and the plugins that would reach the network disabled.

The virtual printer simulates moves at a tenth of their real duration. Its heaters warm up at
10 °C/s from the ambient temperature; the ambient is set above the profiles' print temperatures
so that `M109`/`M190` return at once and a small print takes seconds.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT / "scripts" / "setup-octoprint.sh"
USER = "microfactory"

CONFIG = """\
server:
  firstRun: false
  onlineCheck: {{enabled: false}}
  pluginBlacklist: {{enabled: false}}
serial:
  port: VIRTUAL
  baudrate: 115200
  autoconnect: true
  timeout: {{connection: 5, detection: 1}}
feature:
  sdSupport: false
plugins:
  _disabled: [softwareupdate, announcements, tracking, errortracking, discovery, backup,
              pluginmanager, achievements, gcodeviewer, health_check, firmware_check]
  virtual_printer:
    enabled: true
    ambientTemperature: {ambient}
"""

USERS = """\
_version: 2
{user}:
  password: "!"
  active: true
  groups: [admins, users]
  permissions: []
  apikey: {key}
  settings: {{}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install_octoprint() -> Path:
    """Run the (idempotent, cached) setup script; return the `octoprint` executable.
    Raises RuntimeError with the script's output when it fails."""
    env = dict(os.environ)
    proc = subprocess.run(
        ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, env=env, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        raise RuntimeError(f"setting up OctoPrint failed: {proc.stderr[-2000:]}")
    return Path(lines[-1])


@dataclass
class OctoPrintServer:
    url: str
    api_key: str
    basedir: Path
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0
    _closed: bool = field(default=False, repr=False)

    def ready(self) -> bool:
        """Up, with the virtual printer connected, operational and reporting temperatures."""
        try:
            r = httpx.get(f"{self.url}/api/printer", headers={"X-Api-Key": self.api_key}, timeout=2)
        except httpx.HTTPError:
            return False
        if r.status_code != 200:
            return False
        body = r.json()
        return bool(body["state"]["flags"].get("ready")) and "tool0" in body.get("temperature", {})

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"OctoPrint exited: {self.tail()}")
            if self.ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"OctoPrint at {self.url} not ready after {timeout} s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def rss_mb(self) -> float:
        try:
            text = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def launch(executable: Path, basedir: Path, *, ambient: float = 240.0) -> OctoPrintServer:
    """Start one server (returns at once; call `wait_ready`)."""
    basedir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    (basedir / "config.yaml").write_text(CONFIG.format(ambient=ambient))
    (basedir / "users.yaml").write_text(USERS.format(user=USER, key=key))
    port = free_port()
    log = basedir / "server.log"
    args = [str(executable), "serve", "--basedir", str(basedir), "--host", "127.0.0.1"]
    args += ["--port", str(port)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(2, "--iknowwhatimdoing")
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return OctoPrintServer(f"http://127.0.0.1:{port}", key, basedir, process, log, port)


def start_servers(
    executable: Path, root: Path, count: int, timeout: float = 180.0
) -> list[OctoPrintServer]:
    """Start `count` servers side by side and wait until all are operational."""
    servers = [launch(executable, root / f"octoprint-{i}") for i in range(count)]
    try:
        for server in servers:
            server.wait_ready(timeout)
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


def remove_basedir(server: OctoPrintServer) -> None:
    shutil.rmtree(server.basedir, ignore_errors=True)


def reset(server: OctoPrintServer, timeout: float = 60.0) -> None:
    """Leave a server as a test wants it: nothing printing, no files, printer operational."""
    headers = {"X-Api-Key": server.api_key}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = client.get("/api/job").json().get("state", "")
            if state == "Operational":
                break
            if state.startswith(("Printing", "Paused")):
                client.post("/api/job", json={"command": "cancel"})
            elif state.startswith(("Offline", "Error", "Closed")):
                client.post("/api/connection", json={"command": "connect", "port": "VIRTUAL"})
            time.sleep(0.25)
        else:
            raise RuntimeError(f"OctoPrint at {server.url} did not become operational")
        for f in client.get("/api/files/local").json().get("files", []):
            client.delete(f"/api/files/local/{f['path']}")
