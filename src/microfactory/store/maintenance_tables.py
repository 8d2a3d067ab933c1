"""Model registry of predictive maintenance: every trained model with its version, the data
it was trained on, its metrics and the serialized model itself.

`SqlModelRegistry` is the SQL implementation of the `ModelRegistry` port of
`microfactory.services.maintenance`; versions count up per model name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from microfactory.core import Conflict, NotFound, ValidationError, new_id
from microfactory.store.base import Base, JSONType, UTCDateTime


class PdmModelRow(Base):
    __tablename__ = "pdm_models"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    trained_on: Mapped[str] = mapped_column(Text)
    data_digest: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (UniqueConstraint("name", "version", name="uq_pdm_models_name_version"),)


@dataclass(frozen=True)
class ModelInfo:
    """A registered model without its bytes."""

    id: str
    name: str
    version: int
    kind: str
    trained_on: str
    data_digest: str
    metrics: dict[str, Any]
    params: dict[str, Any]
    created_at: datetime
    model_sha256: str
    size_bytes: int


_INFO_COLUMNS = (
    PdmModelRow.id,
    PdmModelRow.name,
    PdmModelRow.version,
    PdmModelRow.kind,
    PdmModelRow.trained_on,
    PdmModelRow.data_digest,
    PdmModelRow.metrics,
    PdmModelRow.params,
    PdmModelRow.created_at,
    PdmModelRow.model_sha256,
    func.length(PdmModelRow.model),
)


def _info(row: Any) -> ModelInfo:
    return ModelInfo(*row)


class SqlModelRegistry:
    """Registry of trained models in the microfactory database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(
        self,
        *,
        name: str,
        kind: str,
        model: bytes,
        trained_on: str,
        data_digest: str,
        metrics: dict[str, Any],
        params: dict[str, Any],
        created_at: datetime,
    ) -> ModelInfo:
        """Store a new version of `name` (one more than the latest) and return it."""
        if not name or len(name) > 64:
            raise ValidationError("model name must have 1 to 64 characters", where="name")
        if not model:
            raise ValidationError("model bytes are empty", where="model")
        digest = hashlib.sha256(model).hexdigest()
        with self.engine.begin() as conn:
            latest = conn.execute(
                select(func.max(PdmModelRow.version)).where(PdmModelRow.name == name)
            ).scalar()
            version = int(latest or 0) + 1
            row_id = new_id("mdl")
            try:
                conn.execute(
                    insert(PdmModelRow).values(
                        id=row_id,
                        name=name,
                        version=version,
                        kind=kind,
                        trained_on=trained_on,
                        data_digest=data_digest,
                        metrics=metrics,
                        params=params,
                        created_at=created_at,
                        model_sha256=digest,
                        model=model,
                    )
                )
            except IntegrityError as exc:
                raise Conflict(f"model {name} version {version} was registered meanwhile") from exc
        return self.info(name, version)

    def _where(self, name: str, version: int | None) -> Any:
        query = select(*_INFO_COLUMNS).where(PdmModelRow.name == name)
        if version is None:
            return query.order_by(PdmModelRow.version.desc()).limit(1)
        return query.where(PdmModelRow.version == version)

    def info(self, name: str, version: int | None = None) -> ModelInfo:
        """A version of `name` (the latest when `version` is None), without its bytes."""
        with self.engine.connect() as conn:
            row = conn.execute(self._where(name, version)).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFound(f"no model {name!r} with {which} in the registry")
        return _info(row)

    def load(self, name: str, version: int | None = None) -> tuple[ModelInfo, bytes]:
        """A version's information and bytes; the bytes are checked against their digest."""
        info = self.info(name, version)
        with self.engine.connect() as conn:
            blob = conn.execute(
                select(PdmModelRow.model).where(PdmModelRow.id == info.id)
            ).scalar_one()
        data = bytes(blob)
        if hashlib.sha256(data).hexdigest() != info.model_sha256:
            raise Conflict(f"model {name} version {info.version} does not match its digest")
        return info, data

    def list(self, name: str | None = None) -> list[ModelInfo]:
        """Registered models (all names, or one), oldest first."""
        query = select(*_INFO_COLUMNS).order_by(PdmModelRow.name, PdmModelRow.version)
        if name is not None:
            query = query.where(PdmModelRow.name == name)
        with self.engine.connect() as conn:
            return [_info(r) for r in conn.execute(query).all()]
