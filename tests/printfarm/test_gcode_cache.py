"""The bounded G-code cache: least recently used files go first; a staged file appears whole."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from microfactory.connect.gcode_cache import DirectoryGcodeCache


def put(cache: DirectoryGcodeCache, key: str, data: bytes) -> Path:
    staged = cache.staging(key)
    staged.write_bytes(data)
    return cache.put(key, staged)


def test_the_least_recently_used_entry_is_evicted_first(tmp_path: Path) -> None:
    cache = DirectoryGcodeCache(tmp_path, max_entries=2)
    a = put(cache, "a", b"A")
    put(cache, "b", b"B")
    old = time.time() - 100
    os.utime(a, (old, old))
    os.utime(tmp_path / "b.gcode", (old + 10, old + 10))
    assert cache.get("a") is not None  # using `a` makes `b` the oldest
    put(cache, "c", b"C")
    assert cache.read("a") == b"A" and cache.read("c") == b"C"
    assert cache.get("b") is None
    assert cache.evicted == 1


def test_the_cache_is_bounded_in_bytes_too(tmp_path: Path) -> None:
    cache = DirectoryGcodeCache(tmp_path, max_entries=10, max_bytes=10)
    put(cache, "a", b"x" * 6)
    put(cache, "b", b"y" * 6)
    assert [p.name for p in cache.entries()] == ["b.gcode"]


def test_keys_cannot_leave_the_cache_directory(tmp_path: Path) -> None:
    cache = DirectoryGcodeCache(tmp_path)
    with pytest.raises(ValueError, match="bad slice key"):
        cache.get("../etc/passwd")
