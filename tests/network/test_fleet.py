"""Fleet learning at the hub: the hub's records read as telemetry, and the pooling
experiment on lives where one site has seen too few breakdowns to learn alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from microfactory.maintenance.health import Life, SignalHistory
from microfactory.services.fleet import HubTelemetry, compare_pooling
from microfactory.services.network import parse_record
from microfactory.store.base import make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.network_tables import SqlHubStore

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _env(site: str, seq: int, kind: str, ts: datetime, body: dict[str, object]) -> object:
    env = {
        "site": site,
        "epoch": "e",
        "seq": seq,
        "kind": kind,
        "key": f"k{seq}",
        "ts": ts.isoformat(),
        "body": body,
    }
    return parse_record(json.dumps(env).encode())


def test_the_hubs_records_read_as_a_machines_telemetry(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    hub = SqlHubStore(engine)
    state = {
        "v": 1,
        "event_id": "s1",
        "machine": "p1",
        "seq": 1,
        "ts": T0.isoformat(),
        "kind": "state",
        "state": "Executing",
        "mode": "processing",
    }
    records = [_env("a", 1, "state", T0, state)]
    for i in range(3):
        ts = T0 + timedelta(minutes=i + 1)
        body = {"machine": "p1", "samples": [{"signal": "temp", "value": 50.0 + i}]}
        records.append(_env("a", i + 2, "sample", ts, body))
    hub.apply(records)  # type: ignore[arg-type]
    tm = HubTelemetry(hub)
    [event] = tm.events(machine="a/p1", kind="state")
    assert event.machine == "p1" and event.kind == "state"
    got = tm.samples("a/p1", "temp", T0, T0 + timedelta(hours=1))
    assert [v for _, v in got] == [50.0, 51.0, 52.0]
    engine.dispose()


def _life(hours: float, seed: int, failed: bool = True) -> Life:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, hours, 0.25)
    wear = np.clip(t - 0.5 * hours, 0, None) / (0.5 * hours)  # degrades in the second half
    values = 50.0 + rng.normal(0, 0.5, len(t)) + (15.0 * wear if failed else 0.0)
    return Life(SignalHistory(("temp",), t, values[:, None], np.ones(len(t), bool)), failed)


def test_a_site_with_one_breakdown_gets_a_model_only_from_the_fleet() -> None:
    lives = {
        "a/p1": ("fdm", [_life(120, 1), _life(140, 2)]),
        "a/p2": ("fdm", [_life(130, 3), _life(60, 4, failed=False)]),
        "b/p1": ("fdm", [_life(125, 5)]),
    }
    result = compare_pooling(lives)
    b = [r for r in result["lives"] if r["site"] == "b"]
    assert len(b) == 1 and not b[0]["own"]["model"] and b[0]["pooled"]["model"]
    assert result["summary"]["pooled"]["with_a_model"] == 4
    assert result["summary"]["own"]["with_a_model"] == 3
    assert result["summary"]["pooled"]["rul_mae_h_at_24h"] is not None


@pytest.mark.parametrize("machine", ["p1", "a.p1"])  # no site part: refused
def test_fleet_machine_ids_name_their_site(machine: str, sqlite_url: str) -> None:
    from microfactory.core.errors import ValidationError

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with pytest.raises(ValidationError):
        HubTelemetry(SqlHubStore(engine)).events(machine=machine, kind="state")
    engine.dispose()
