"""The model files customers uploaded for quotes, kept so that an accepted quote can be sliced
and printed: content-addressed (SHA-256), each quote pointing at its file. The file stored is
the model as intake validated it (repaired, in millimetres, binary STL): the uploaded bytes
themselves when they already were that and intake changed nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from microfactory.store.base import Base, UTCDateTime


class ModelFileRow(Base):
    __tablename__ = "quoting_model_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QuoteModelRow(Base):
    __tablename__ = "quoting_quote_models"
    quote_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)


class SqlModelStore:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def put(self, quote_id: str, filename: str, data: bytes) -> str:
        """Keep `data` for `quote_id` (once per distinct content); return its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        with self.sessions.begin() as s:
            if s.get(ModelFileRow, sha) is None:
                s.add(
                    ModelFileRow(
                        sha256=sha,
                        filename=filename[:200],
                        size=len(data),
                        data=data,
                        created_at=datetime.now(UTC),
                    )
                )
            s.merge(QuoteModelRow(quote_id=quote_id, sha256=sha))
        return sha

    def for_quote(self, quote_id: str) -> tuple[str, str] | None:
        """(sha256, filename) of the quote's model, or None when none was kept."""
        with self.sessions() as s:
            row = s.execute(
                select(ModelFileRow.sha256, ModelFileRow.filename)
                .join(QuoteModelRow, QuoteModelRow.sha256 == ModelFileRow.sha256)
                .where(QuoteModelRow.quote_id == quote_id)
            ).first()
        return None if row is None else (row[0], row[1])

    def data(self, sha256: str) -> bytes:
        with self.sessions() as s:
            row = s.get(ModelFileRow, sha256)
            if row is None:
                raise LookupError(f"no model file {sha256}")
            return bytes(row.data)


class MemoryModelStore:
    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.quotes: dict[str, str] = {}

    def put(self, quote_id: str, filename: str, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.files.setdefault(sha, (filename, bytes(data)))
        self.quotes[quote_id] = sha
        return sha

    def for_quote(self, quote_id: str) -> tuple[str, str] | None:
        sha = self.quotes.get(quote_id)
        return None if sha is None else (sha, self.files[sha][0])

    def data(self, sha256: str) -> bytes:
        if sha256 not in self.files:
            raise LookupError(f"no model file {sha256}")
        return self.files[sha256][1]
