"""A bounded directory of sliced G-code (the `GcodeCache` port): one file per slice key, the
least recently used evicted first once there are more than `max_entries` files or more than
`max_bytes` in all. Slicing writes into a staging file that `put` renames into place, so a
reader never sees half a file. Thread-safe within one process."""

from __future__ import annotations

import os
import re
import threading
import uuid
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,159}$")


class DirectoryGcodeCache:
    def __init__(self, root: Path, *, max_entries: int = 200, max_bytes: int = 2 * 1024**3) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("the G-code cache needs room for at least one file")
        self.root = root
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.evicted = 0
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad slice key {key!r}")
        return self.root / f"{key}.gcode"

    def get(self, key: str) -> Path | None:
        path = self._path(key)
        with self._lock:
            if not path.is_file():
                return None
            os.utime(path)
        return path

    def read(self, key: str) -> bytes | None:
        path = self.get(key)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:  # evicted between get and read
            return None

    def staging(self, key: str) -> Path:
        self._path(key)
        return self.root / f".staging-{key}-{uuid.uuid4().hex[:8]}.gcode"

    def put(self, key: str, staged: Path) -> Path:
        path = self._path(key)
        with self._lock:
            os.replace(staged, path)
            self._evict(keep=path)
        return path

    def entries(self) -> list[Path]:
        return sorted(p for p in self.root.glob("*.gcode") if not p.name.startswith("."))

    def _evict(self, keep: Path) -> None:
        files = []
        for p in self.entries():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, p))
        files.sort()
        total = sum(size for _, size, _ in files)
        count = len(files)
        for _, size, p in files:
            if count <= self.max_entries and total <= self.max_bytes:
                break
            if p == keep:
                continue
            p.unlink(missing_ok=True)
            self.evicted += 1
            count -= 1
            total -= size
