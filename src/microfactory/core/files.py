"""Reading data files that may be compressed.

Reference data sets (C-MAPSS, AI4I 2020, ...) are often shipped gzipped or xz-compressed.
`read_data_bytes` accepts a plain, gzip or xz file alike, recognised by its magic bytes
rather than its name, so a renamed file still reads. Every failure is a `ValidationError`
naming the file.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from pathlib import Path

from microfactory.core.errors import ValidationError

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"


def read_data_bytes(path: str | Path) -> bytes:
    """The content of `path`, decompressed when it is a gzip or xz stream."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    if raw.startswith(GZIP_MAGIC):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationError(f"broken gzip stream: {exc}", where=str(path)) from exc
    if raw.startswith(XZ_MAGIC):
        try:
            return lzma.decompress(raw, format=lzma.FORMAT_XZ)
        except (lzma.LZMAError, EOFError) as exc:
            raise ValidationError(f"broken xz stream: {exc}", where=str(path)) from exc
    return raw


def read_data_text(path: str | Path, encoding: str = "utf-8") -> str:
    """`read_data_bytes` decoded; a file that does not decode is a `ValidationError`."""
    raw = read_data_bytes(path)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not {encoding} text: {exc}", where=str(path)) from exc
