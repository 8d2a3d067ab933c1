"""Fleet learning at the hub: predictive-maintenance health models trained on every site's
data of the same machine type, and the evidence of whether pooling helps.

The hub's replicated records (state events and sample batches) are read through
`HubTelemetry`, which presents machine `site/machine` to `PredictiveMaintenance` exactly as
a site's own telemetry store does; the lives (new → breakdown, or new → renewal) are cut by
the same `LifeTracker`. `train_fleet_models` fits one `HealthModel` per machine type on all
sites' lives and registers it in the hub's model registry (kind `fleet_health`), from which
the hub ships it to the sites.

`compare_pooling` is the experiment: each failed life of a site is held out in turn and
predicted from a model trained on (a) the site's own other lives ("own"), (b) those plus
every other site's lives of the same type ("pooled"). At fixed run-hours before the
breakdown it records the RUL error, and whether the model warned (RUL below `lead_hours`)
at least `warn_hours` before it; a site with no failed life of a type has no own model at
all (counted as such).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from microfactory.core import Clock, ValidationError
from microfactory.maintenance.health import HealthModel, Life
from microfactory.services.maintenance import PredictiveMaintenance
from microfactory.services.ports import ModelRegistry, RegisteredModel
from microfactory.shopfloor.events import Event, parse_event

FLEET_KIND = "fleet_health"


class HubRecords(Protocol):
    """Port: the hub store's replicated records (`SqlHubStore`)."""

    def records(
        self,
        *,
        site: str | None = None,
        kind: str | None = None,
        machine: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
        order_by_seq: bool = False,
    ) -> list[dict[str, Any]]: ...

    def sites(self) -> list[dict[str, Any]]: ...


def _split(machine: str) -> tuple[str, str]:
    if "/" not in machine:
        raise ValidationError(f"fleet machine ids are site/machine, not {machine!r}")
    site, name = machine.split("/", 1)
    return site, name


def _ts(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class HubTelemetry:
    """The `TelemetrySource` port over the hub's records, for machines named site/machine."""

    def __init__(self, store: HubRecords) -> None:
        self.store = store
        self._rows: tuple[tuple[str, datetime, datetime], list[dict[str, Any]]] | None = None

    def events(
        self,
        *,
        machine: str | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Event]:
        if machine is None:
            raise ValidationError("the hub's telemetry is read per machine")
        site, name = _split(machine)
        rows = self.store.records(
            site=site, kind=kind, machine=name, start=start, end=end, limit=limit
        )
        return [parse_event(json.dumps(r["record"]["body"])) for r in rows]

    def samples(
        self, machine: str, signal: str, start: datetime, end: datetime, limit: int = 100_000
    ) -> list[tuple[datetime, float]]:
        key = (machine, start, end)
        if self._rows is None or self._rows[0] != key:  # one read serves every signal
            site, name = _split(machine)
            rows: list[dict[str, Any]] = []
            since = start
            while True:
                got = self.store.records(
                    site=site, kind="sample", machine=name, start=since, end=end, limit=limit
                )
                rows.extend(got)
                if len(got) < limit:
                    break
                since = got[-1]["ts"] + timedelta(microseconds=1)
            self._rows = (key, rows)
        out: list[tuple[datetime, float]] = []
        for r in self._rows[1]:
            body = r["record"]["body"]
            base = r["ts"]
            for s in body.get("samples", ()):
                if s.get("signal") == signal:
                    out.append((_ts(s.get("ts"), base), float(s["value"])))
        out.sort(key=lambda item: item[0])
        return out[:limit]


def machine_types(store: HubRecords) -> dict[str, dict[str, str]]:
    """Site -> {machine: type}, from each site's latest `machines` record."""
    out: dict[str, dict[str, str]] = {}
    for s in store.sites():
        rows = store.records(site=s["site"], kind="machines", limit=100_000)
        if rows:
            out[s["site"]] = dict(rows[-1]["record"]["body"]["machines"])
    return out


def fleet_lives(
    store: HubRecords, types: Mapping[str, Mapping[str, str]], until: datetime
) -> dict[str, tuple[str, list[Life]]]:
    """`site/machine` -> (machine type, its lives up to `until`, the current one last,
    unfailed)."""
    flat = {f"{site}/{m}": t for site, machines in types.items() for m, t in machines.items()}
    pm = PredictiveMaintenance(HubTelemetry(store), flat)
    pm.update(until)
    out: dict[str, tuple[str, list[Life]]] = {}
    for key, tracker in pm.trackers.items():
        lives = list(tracker.completed)
        if tracker.n_samples >= 2:
            lives.append(Life(tracker.current(), failed=False))
        out[key] = (flat[key], lives)
    return out


def train_fleet_models(
    store: HubRecords, registry: ModelRegistry, clock: Clock, *, until: datetime | None = None
) -> list[RegisteredModel]:
    """One health model per machine type on every site's lives; registered as
    `fleet-health-<type>` (kind `fleet_health`)."""
    now = until or clock.now()
    types = machine_types(store)
    lives = fleet_lives(store, types, now)
    by_type: dict[str, list[Life]] = {}
    for mtype, machine_lives in lives.values():
        by_type.setdefault(mtype, []).extend(machine_lives)
    out = []
    for mtype, pool in sorted(by_type.items()):
        failed = sum(1 for life in pool if life.failed)
        try:
            model = HealthModel().fit(pool)
        except ValidationError:
            continue
        out.append(
            registry.register(
                name=f"fleet-health-{mtype}",
                kind=FLEET_KIND,
                model=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
                trained_on=f"{len(types)} sites: {', '.join(sorted(types))}",
                data_digest=f"lives={len(pool)} failed={failed} until={now.isoformat()}",
                metrics={"lives": len(pool), "failed_lives": failed, "sites": len(types)},
                params={"machine_type": mtype},
                created_at=clock.now(),
            )
        )
    return out


# -- the experiment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolingSettings:
    horizons: tuple[float, ...] = (24.0, 12.0, 6.0)
    lead_hours: float = 24.0
    warn_hours: float = 8.0
    min_run_hours: float = 2.0


def _assess_at(model: HealthModel, life: Life, hours_before: float, min_run: float) -> Any:
    end = float(life.history.run_hours[-1])
    at = end - hours_before
    if at < min_run:
        return None
    history = life.history.until(at)
    if history.n_samples < 2:
        return None
    return model.assess(history)


def compare_pooling(
    lives: Mapping[str, tuple[str, list[Life]]], settings: PoolingSettings | None = None
) -> dict[str, Any]:
    """Leave-one-failed-life-out, per site and machine type: own lives vs pooled lives."""
    s = settings or PoolingSettings()
    sites = sorted({key.split("/", 1)[0] for key in lives})
    rows: list[dict[str, Any]] = []
    for site in sites:
        for key, (mtype, machine_lives) in sorted(lives.items()):
            if not key.startswith(site + "/"):
                continue
            for i, held in enumerate(machine_lives):
                if not held.failed:
                    continue
                own = [
                    life
                    for k, (t, ls) in lives.items()
                    if t == mtype and k.startswith(site + "/")
                    for j, life in enumerate(ls)
                    if not (k == key and j == i)
                ]
                others = [
                    life
                    for k, (t, ls) in lives.items()
                    if t == mtype and not k.startswith(site + "/")
                    for life in ls
                ]
                row: dict[str, Any] = {"site": site, "machine": key, "type": mtype}
                for name, train in (("own", own), ("pooled", own + others)):
                    row[name] = _score(train, held, s)
                rows.append(row)
    return {"failed_lives": len(rows), "summary": _summarise(rows, s), "lives": rows}


def _score(train: Sequence[Life], held: Life, s: PoolingSettings) -> dict[str, Any]:
    if not any(life.failed for life in train):
        return {"model": False}
    try:
        model = HealthModel().fit(train)
    except ValidationError:
        return {"model": False}
    out: dict[str, Any] = {"model": True, "errors": {}}
    for h in s.horizons:
        a = _assess_at(model, held, h, s.min_run_hours)
        if a is not None and a.rul_hours is not None:
            out["errors"][str(h)] = abs(float(a.rul_hours) - h)
    warn = _assess_at(model, held, s.warn_hours, s.min_run_hours)
    out["warned"] = bool(warn is not None and warn.due_within(s.lead_hours))
    return out


def _summarise(rows: Sequence[dict[str, Any]], s: PoolingSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("own", "pooled"):
        scored = [r[name] for r in rows if r[name]["model"]]
        summary: dict[str, Any] = {
            "failed_lives": len(rows),
            "with_a_model": len(scored),
            "warned_in_time": sum(1 for r in scored if r["warned"]),
        }
        for h in s.horizons:
            errs = [r["errors"][str(h)] for r in scored if str(h) in r["errors"]]
            summary[f"rul_mae_h_at_{h:g}h"] = round(float(np.mean(errs)), 2) if errs else None
            summary[f"n_at_{h:g}h"] = len(errs)
        out[name] = summary
    both = [r for r in rows if r["own"]["model"] and r["pooled"]["model"]]
    paired: dict[str, Any] = {
        "failed_lives": len(both),
        "warned_in_time_own": sum(1 for r in both if r["own"]["warned"]),
        "warned_in_time_pooled": sum(1 for r in both if r["pooled"]["warned"]),
    }
    for h in s.horizons:
        k = str(h)
        pairs = [
            (r["own"]["errors"][k], r["pooled"]["errors"][k])
            for r in both
            if k in r["own"]["errors"] and k in r["pooled"]["errors"]
        ]
        if pairs:
            own, pooled = np.array(pairs).T
            paired[f"rul_mae_h_at_{h:g}h_own"] = round(float(own.mean()), 2)
            paired[f"rul_mae_h_at_{h:g}h_pooled"] = round(float(pooled.mean()), 2)
            paired[f"pooled_better_at_{h:g}h"] = int((pooled < own).sum())
            paired[f"pooled_worse_at_{h:g}h"] = int((pooled > own).sum())
    out["paired"] = paired
    return out
