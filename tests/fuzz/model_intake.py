"""Fuzz target: 3D model intake (STL binary and ASCII, 3MF, OBJ).

Input: one selector byte (the file extension) and the file. Allowed outcome: a loaded,
watertight model, or the documented `ValidationError` naming the problem. Anything else,
an input slower than libFuzzer's -timeout or a memory peak over -rss_limit_mb is a bug.

Run: python tests/fuzz/model_intake.py [libFuzzer flags] CORPUS_DIR...
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

import atheris

with (
    atheris.instrument_imports(include=["microfactory"])
    if __name__ == "__main__"
    else contextlib.nullcontext()
):
    from microfactory.core.errors import ValidationError
    from microfactory.quoting.intake import IntakeLimits, load_model_bytes

EXTENSIONS = ("stl", "3mf", "obj")
# the shipped defaults, scaled to what one fuzz input can be
LIMITS = IntakeLimits(max_file_bytes=1 << 20, max_uncompressed_bytes=16 << 20)


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    if not data:
        return
    ext = EXTENSIONS[data[0] % len(EXTENSIONS)]
    with contextlib.suppress(ValidationError):
        model = load_model_bytes(data[1:], f"fuzz.{ext}", limits=LIMITS)
        if not model.mesh.volume > 0:
            raise AssertionError("intake accepted a mesh without volume")


if __name__ == "__main__":
    # libFuzzer re-runs argv[0] through the shell for -merge / -fork: make it "python script"
    argv0 = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"
    atheris.Setup([argv0, *sys.argv[1:]], TestOneInput)
    atheris.Fuzz()
