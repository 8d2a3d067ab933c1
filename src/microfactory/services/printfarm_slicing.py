"""Slicing for the print farm: what a planned print operation is (its `JobSpec`, resolved from
the order line's quote and the model the quote kept), and the slices made of it, ahead of the
plan, with a bounded G-code cache.

A slice is keyed by the model's hash, the profile (a digest of its settings and the material's
overrides), the quote's pose and the number of copies, so the same model on printers with the
same profile is sliced once. Its estimates are stored with the quote's, which makes the
difference between quote and slicer a quoting KPI (`SliceRecord.time_variance`). A model the
slicer refuses is recorded with the slicer's reason and not tried again; a slicer crash is
tried again up to `SLICER_ATTEMPTS` times.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from microfactory.core.clock import Clock
from microfactory.core.errors import ConnectorError, NotFound, ValidationError
from microfactory.quoting.geometry import analyze
from microfactory.quoting.intake import load_model_bytes
from microfactory.services.ports import (
    GcodeCache,
    ModelStore,
    PrintFarmStore,
    Slicer,
    UnitOfWorkFactory,
)
from microfactory.shopfloor.printers import SliceRecord, profile_path

SLICER_ATTEMPTS = 3
REFUSED = "refused: "


@dataclass(frozen=True)
class JobSpec:
    """What printing one operation takes: the quote's model (by hash) in the quote's pose,
    its material, the number of parts, and what the quote expected (time, filament)."""

    operation: str
    work_order: str
    quote_id: str
    model_sha: str
    model_name: str
    material: str
    parts: int
    orientation: str
    bbox_mm: tuple[float, float, float]
    quote_time_s: float
    quote_filament_g: float
    supports: bool = False
    """The quote counted support material for this pose: the slicer generates it too."""


class QuoteReader(Protocol):
    def get(self, quote_id: str) -> dict[str, Any]:
        """The stored quote row (NotFound when unknown)."""
        ...


class JobSpecs:
    """Operation id -> JobSpec, or the reason it cannot be printed automatically."""

    def __init__(self, uow: UnitOfWorkFactory, quotes: QuoteReader, models: ModelStore) -> None:
        self.uow = uow
        self.quotes = quotes
        self.models = models
        self._cache: dict[str, JobSpec] = {}
        self._lock = threading.Lock()

    def get(self, operation: str) -> JobSpec | str:
        with self._lock:
            if operation in self._cache:
                return self._cache[operation]
        try:
            with self.uow() as tx:
                op = tx.work_orders.get_operation(operation)
                wo = tx.work_orders.get(op.work_order)
                order = tx.orders.get(wo.order)
        except NotFound as exc:
            return str(exc)
        line = order.lines[wo.line_no - 1] if 0 < wo.line_no <= len(order.lines) else None
        ref = None if line is None else line.model_ref
        if not ref:
            return f"{operation} has no 3D model to slice (order {order.id} was not a quote)"
        try:
            quote = self.quotes.get(ref)
        except NotFound:
            return f"quote {ref} of {operation} is not stored"
        found = self.models.for_quote(ref)
        if found is None:
            return f"the model of quote {ref} was not kept: it cannot be sliced"
        payload = quote.get("payload") or {}
        bbox = payload.get("oriented_bbox_mm") or payload.get("bbox_mm") or [0.0, 0.0, 0.0]
        spec = JobSpec(
            operation=operation,
            work_order=wo.id,
            quote_id=ref,
            model_sha=found[0],
            model_name=found[1],
            material=str(quote["material"]),
            parts=wo.quantity,
            orientation=str(payload.get("orientation") or "as modelled"),
            bbox_mm=(float(bbox[0]), float(bbox[1]), float(bbox[2])),
            quote_time_s=float(payload.get("print_hours_per_part") or 0.0) * 3600 * wo.quantity,
            quote_filament_g=float(payload.get("mass_g") or 0.0) * wo.quantity,
            supports=float(payload.get("support_volume_mm3") or 0.0) > 0,
        )
        with self._lock:
            self._cache[operation] = spec
        return spec


def posed_stl(data: bytes, name: str, orientation: str) -> bytes:
    """The model rotated into the quote's pose (by its label), as binary STL in mm."""
    mesh = load_model_bytes(data, name, units="mm").mesh
    pose = next((o for o in analyze(mesh).orientations if o.label == orientation), None)
    if pose is not None:
        mesh = mesh.rotated(np.asarray(pose.rotation))
    return mesh.to_stl()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:24] or "pose"


class SlicingService:
    """Makes and keeps slices. `density` gives a factory material's density (g/cm³), which
    overrides the profile's filament density so the grams are the material's."""

    def __init__(
        self,
        slicer: Slicer,
        cache: GcodeCache,
        store: PrintFarmStore,
        models: ModelStore,
        clock: Clock,
        density: Callable[[str], float | None] = lambda material: None,
    ) -> None:
        self.slicer = slicer
        self.cache = cache
        self.store = store
        self.models = models
        self.clock = clock
        self.density = density
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()
        self.sliced = 0
        self.failed = 0

    def overrides(self, spec: JobSpec) -> dict[str, str]:
        """The material's density and, when the quote's pose needs them, supports."""
        out = {"support_material": "1"} if spec.supports else {}
        density = self.density(spec.material)
        if density is not None:
            out["filament_density"] = f"{density:g}"
        return out

    def profile_settings(self, profile: str) -> Mapping[str, str]:
        return self.slicer.profile_settings(profile_path(profile))

    def key(self, spec: JobSpec, profile: str) -> str:
        overrides = self.overrides(spec)
        cache_key = f"{profile}|{sorted(overrides.items())}"
        digest = self._digests.get(cache_key)
        if digest is None:
            settings = dict(self.profile_settings(profile))
            settings.update(overrides)
            text = "\n".join(f"{k}={v}" for k, v in sorted(settings.items()))
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            self._digests[cache_key] = digest
        return f"{spec.model_sha[:16]}-{digest}-{_slug(spec.orientation)}-x{spec.parts}"

    def record(self, spec: JobSpec, profile: str) -> SliceRecord | None:
        with self.store.transaction() as tx:
            return tx.slice(self.key(spec, profile))

    def ready(self, spec: JobSpec, profile: str) -> tuple[SliceRecord | None, bytes | None]:
        """The slice record and its G-code if both are there (no slicing here)."""
        key = self.key(spec, profile)
        record = self.record(spec, profile)
        if record is None or not record.ok:
            return record, None
        return record, self.cache.read(key)

    def settled(self, record: SliceRecord | None) -> bool:
        """A failed slice that will not be tried again."""
        return (
            record is not None
            and not record.ok
            and (record.error.startswith(REFUSED) or record.attempts >= SLICER_ATTEMPTS)
        )

    def ensure(self, spec: JobSpec, profile: str) -> SliceRecord:
        """Slice unless a usable slice is cached or the model was refused; return the record."""
        key = self.key(spec, profile)
        with self._lock:  # one slicer run at a time: slicing is CPU-heavy
            record = self.record(spec, profile)
            if record is not None and record.ok and self.cache.get(key) is not None:
                return record
            if self.settled(record):
                assert record is not None
                return record
            attempts = 1 if record is None or record.ok else record.attempts + 1
            record = self._slice(spec, profile, key, attempts)
        with self.store.transaction() as tx:
            tx.save_slice(record)
        return record

    def _slice(self, spec: JobSpec, profile: str, key: str, attempts: int) -> SliceRecord:
        now = self.clock.now()
        base = SliceRecord(
            key=key,
            model_sha=spec.model_sha,
            profile=profile,
            copies=spec.parts,
            ok=False,
            sliced_at=now,
            attempts=attempts,
            quote_id=spec.quote_id,
            quote_time_s=spec.quote_time_s,
            quote_filament_g=spec.quote_filament_g,
        )
        staged = self.cache.staging(key)
        try:
            stl = posed_stl(self.models.data(spec.model_sha), spec.model_name, spec.orientation)
            result = self.slicer.slice(
                stl,
                spec.model_name,
                profile_path(profile),
                staged,
                copies=spec.parts,
                overrides=self.overrides(spec),
            )
        except ValidationError as exc:
            self.failed += 1
            return replace(base, error=REFUSED + str(exc))
        except (ConnectorError, ValueError, LookupError, OSError) as exc:
            self.failed += 1
            return replace(base, error=f"slicer failed: {exc}")
        self.cache.put(key, result.gcode)
        self.sliced += 1
        return replace(
            base,
            ok=True,
            print_time_s=result.print_time_s,
            filament_g=result.filament_g,
            filament_mm=result.filament_mm,
            seconds=round(result.seconds, 3),
        )
