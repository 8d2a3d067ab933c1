"""Fixtures of the network tests: our own NATS JetStream cluster (three `nats-server`
processes on free loopback ports, never the machine's own server) and the hub database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .natscluster import NatsCluster, have_nats_server

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_nats_server() -> None:
    if have_nats_server():
        return
    message = "nats-server is not installed (scripts/ensure-test-services.sh installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A 3-node JetStream cluster of our own, stopped after the test."""
    require_nats_server()
    c = NatsCluster(tmp_path / "nats", nodes=3).start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def secure_server(tmp_path: Path) -> Iterator[NatsCluster]:
    """One server with the shipped accounts.conf (users and per-site permissions)."""
    require_nats_server()
    c = NatsCluster(tmp_path / "nats-secure", nodes=1, secure=True).start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsCluster]:
    """One JetStream server of our own (no cluster), without accounts."""
    require_nats_server()
    c = NatsCluster(tmp_path / "nats-one", nodes=1).start()
    try:
        yield c
    finally:
        c.stop()
