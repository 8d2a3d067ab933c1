"""Our own NATS JetStream servers for the network tests and benchmarks: three `nats-server`
processes with routes on loopback ports, started from the shipped deploy/nats/hub-node.conf
(ports, names, store directories and passwords come from the environment, as in production).
The machine's own NATS at 127.0.0.1:4222 is never touched.

Debian 12's nats-server 2.9.10 refuses `sync_interval` (added in 2.10): for such a server
the line is left out of the rendered copy, and `sync_interval_dropped` says so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "nats"
PASSWORDS = {
    "MF_HUB_PASSWORD": "hub-secret",
    "MF_SITE_A_PASSWORD": "site-a-secret",
    "MF_SITE_B_PASSWORD": "site-b-secret",
    "MF_SYS_PASSWORD": "sys-secret",
}


def free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def server_version() -> tuple[int, int, int]:
    out = subprocess.run(
        ["nats-server", "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    if not found:
        raise RuntimeError(f"unknown nats-server version: {out!r}")
    major, minor, patch = (int(x) for x in found.groups())
    return major, minor, patch


def have_nats_server() -> bool:
    return shutil.which("nats-server") is not None


@dataclass
class Node:
    name: str
    port: int
    cluster_port: int
    leaf_port: int
    store: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class NatsCluster:
    """`nodes` servers (3 for a cluster, 1 for a single server) under `workdir`."""

    workdir: Path
    nodes: int = 3
    secure: bool = False
    members: list[Node] = field(default_factory=list)
    sync_interval_dropped: bool = False

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(3 * self.nodes)
        for i in range(self.nodes):
            self.members.append(
                Node(
                    name=f"hub-{i + 1}",
                    port=ports[3 * i],
                    cluster_port=ports[3 * i + 1],
                    leaf_port=ports[3 * i + 2],
                    store=self.workdir / f"store-{i + 1}",
                    log=self.workdir / f"hub-{i + 1}.log",
                )
            )
        self.config = self._render()

    def _render(self) -> Path:
        text = (DEPLOY / "hub-node.conf").read_text()
        if server_version() < (2, 10, 0):
            text = re.sub(r"(?m)^\s*sync_interval:.*$", "", text)
            self.sync_interval_dropped = True
        if not self.secure:
            text = text.replace("include ./accounts.conf", "")
        if self.nodes == 1:  # a single server: no cluster block
            text = re.sub(r"(?s)cluster \{.*?\n\}\n", "", text)
        path = self.workdir / "hub-node.conf"
        path.write_text(text)
        shutil.copy(DEPLOY / "accounts.conf", self.workdir / "accounts.conf")
        return path

    def _env(self, node: Node) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PASSWORDS)
        env.update(
            MF_NATS_NAME=node.name,
            MF_NATS_LISTEN=f"127.0.0.1:{node.port}",
            MF_NATS_CLUSTER_LISTEN=f"127.0.0.1:{node.cluster_port}",
            MF_NATS_LEAF_LISTEN=f"127.0.0.1:{node.leaf_port}",
            MF_NATS_STORE=str(node.store),
        )
        routes = [f"nats-route://127.0.0.1:{m.cluster_port}" for m in self.members]
        routes += routes[-1:] * (3 - len(routes))
        for i, route in enumerate(routes[:3], start=1):
            env[f"MF_NATS_ROUTE_{i}"] = route
        return env

    def urls(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return ",".join(f"nats://{auth}127.0.0.1:{m.port}" for m in self.members)

    def start(self, timeout: float = 20.0) -> NatsCluster:
        for i in range(self.nodes):
            self.start_node(i)
        for m in self.members:
            _wait_port(m.port, timeout)
        return self

    def start_node(self, i: int) -> None:
        node = self.members[i]
        with node.log.open("ab") as log:
            node.proc = subprocess.Popen(
                ["nats-server", "-c", str(self.config)],
                env=self._env(node),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def kill_node(self, i: int) -> None:
        """SIGKILL, as a crash would."""
        proc = self.members[i].proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def restart_node(self, i: int, timeout: float = 20.0) -> None:
        self.start_node(i)
        _wait_port(self.members[i].port, timeout)

    def stop(self) -> None:
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.terminate()
        for m in self.members:
            if m.proc is not None:
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(5)

    def logs(self) -> str:
        return "\n".join(
            f"--- {m.name}\n" + m.log.read_text(errors="replace")[-3000:]
            for m in self.members
            if m.log.exists()
        )


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nats-server did not open port {port} within {timeout} s")
