"""Faults during a stream of events from two sites, on our own 3-node JetStream cluster:
a NATS node killed with SIGKILL and restarted, the hub consumer killed with SIGKILL and
restarted, a site's replication stopped while the site goes on producing, then restarted.
After each, every event is at the hub exactly once, in per-site order.

The cut-off lasts MICROFACTORY_TEST_CUTOFF_S seconds (30 by default, as the issue asks)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from microfactory.services.network import network_status
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.network_tables import SqlHubStore

from .natscluster import NatsCluster
from .support import (
    Proc,
    Producer,
    assert_exactly_once_in_order,
    site_database,
    wait_for_hub,
    wait_for_streams,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(420)]
CUTOFF_S = float(os.environ.get("MICROFACTORY_TEST_CUTOFF_S", "30"))
SITES = ("site-a", "site-b")
PACK = {"site-a": "1", "site-b": "50"}


@dataclass
class Network:
    cluster: NatsCluster
    hub_url: str
    hub: SqlHubStore
    hub_proc: Proc
    sites: dict[str, Proc]
    producers: dict[str, Producer]
    workdir: Path

    def hub_process(self) -> Proc:
        args = ["network", "hub", "--nats", self.cluster.urls(), "--db", self.hub_url]
        args += ["--replicas", "3", "--gap-timeout", "600", "--verbose"]
        return Proc(args, self.workdir, "hub")

    def converge(self, timeout: float = 120.0) -> None:
        for p in self.producers.values():
            p.stop()
        expected = {s: p.produced for s, p in self.producers.items()}
        try:
            wait_for_hub(self.hub, expected, timeout)
        except AssertionError as exc:
            logs = "\n".join(f"[{n}] {p.stderr()}" for n, p in self.sites.items())
            status = network_status(self.hub)
            raise AssertionError(
                f"{exc}\n{status}\n{logs}\n[hub] {self.hub_proc.stderr()}"
            ) from None
        for site, p in self.producers.items():
            assert_exactly_once_in_order(self.hub, site, p.produced)

    def resume(self) -> None:
        for p in self.producers.values():
            p.start()


@pytest.fixture
def network(cluster: NatsCluster, pg_url: str, tmp_path: Path) -> Iterator[Network]:
    engine = make_engine(pg_url)
    upgrade(engine)
    sites: dict[str, Proc] = {}
    producers: dict[str, Producer] = {}
    for site in SITES:
        url = site_database(tmp_path / f"{site}.db", site)
        producers[site] = Producer(site, url)
        args = ["network", "site", "--site", site, "--nats", cluster.urls(), "--db", url]
        # site-a: one record a message (de-duplicated by event id); site-b: packs of 50
        args += ["--pack", PACK[site]]
        sites[site] = Proc(args, tmp_path, site)
    net = Network(cluster, pg_url, SqlHubStore(engine), None, sites, producers, tmp_path)  # type: ignore[arg-type]
    net.hub_proc = net.hub_process().start()
    wait_for_streams(cluster.urls())  # the hub creates them
    for proc in sites.values():
        proc.start()
    net.resume()
    try:
        yield net
    finally:
        for p in producers.values():
            p.close()
        for proc in [*sites.values(), net.hub_proc]:
            proc.kill()
        engine.dispose()


def test_a_nats_node_killed_and_restarted_loses_and_duplicates_nothing(network: Network) -> None:
    time.sleep(3)
    network.cluster.kill_node(0)
    time.sleep(4)
    network.cluster.restart_node(0)
    time.sleep(3)
    network.converge()
    counters = network.hub_proc.terminate()
    assert counters["gaps"] == 0


def test_the_hub_consumer_killed_and_restarted_applies_everything_once(network: Network) -> None:
    time.sleep(3)
    network.hub_proc.kill()
    time.sleep(3)  # the sites go on publishing into the stream
    network.hub_proc = network.hub_process().start()
    time.sleep(3)
    network.converge()
    network.resume()
    time.sleep(2)
    network.hub_proc.kill()  # once more, right after a batch
    network.hub_proc = network.hub_process().start()
    network.converge()


def test_a_site_cut_off_keeps_producing_and_catches_up_in_order(network: Network) -> None:
    time.sleep(2)
    network.sites["site-a"].kill()
    before = len(network.producers["site-a"].produced)
    time.sleep(CUTOFF_S)  # site-a goes on committing events into its outbox
    assert len(network.producers["site-a"].produced) > before
    network.sites["site-a"].start()
    time.sleep(2)
    network.converge()
    counters = network.sites["site-b"].terminate()
    assert counters["published"] > 0
    counters = network.sites["site-a"].terminate()
    assert counters["outbox_waiting"] == 0
