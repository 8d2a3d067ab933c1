"""A private Mosquitto process: the repository's broker configuration on a free loopback port
with its own persistence directory, which can be started, killed (SIGKILL, as a crash) and
started again on the same port and directory. For fault tests and benchmarks; never touches
the machine's own broker."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from microfactory.core.errors import ConnectorError

REPO_CONF = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "microfactory.conf"
_OWN = ("listener ", "persistence_location", "log_dest", "pid_file", "allow_anonymous", "port ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


class PrivateMosquitto:
    """`conf`: a configuration file to start from (its listener, persistence location and
    logging are replaced); `overrides`: lines appended after it (later lines win in
    Mosquitto, e.g. "autosave_interval 1")."""

    def __init__(
        self, conf: Path | None = REPO_CONF, *, overrides: tuple[str, ...] = (), port: int = 0
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise ConnectorError("mosquitto is not installed")
        self.binary = binary
        self.port = port or free_port()
        # mosquitto started as root saves as its own user: the directory must be writable by it
        self.dir = Path(tempfile.mkdtemp(prefix="mf-mosq-"))
        self.dir.chmod(0o777)
        base = conf.read_text().splitlines() if conf is not None and conf.exists() else []
        lines = [line for line in base if not line.startswith(_OWN)]
        overridden = {o.split()[0] for o in overrides if o.strip()}
        lines = [line for line in lines if not line.split() or line.split()[0] not in overridden]
        lines += [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence_location {self.dir}/",
            *overrides,
        ]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def start(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            return
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ConnectorError(f"mosquitto exited with {self.proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(self.address, 0.2):
                return
            time.sleep(0.05)
        raise ConnectorError("the private mosquitto did not start")

    def kill(self) -> None:
        """A crash: SIGKILL, no chance to save anything."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        """A clean stop: SIGTERM (mosquitto saves its persistence file)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self.proc = None

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateMosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
