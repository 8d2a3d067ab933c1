"""Fuzz target: the factory file (YAML → validated Factory).

Input: the YAML bytes. Allowed outcome: a Factory, or the documented `ValidationError`
naming the field path (or line) and the reason.

Run: python tests/fuzz/factory_yaml.py [libFuzzer flags] CORPUS_DIR...
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
    from microfactory.orders.factory_file import factory_from_yaml


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    with contextlib.suppress(ValidationError):
        factory = factory_from_yaml(data, "fuzz.yaml")
        if not factory.machines or factory.validate():
            raise AssertionError("an invalid factory was accepted")


if __name__ == "__main__":
    # libFuzzer re-runs argv[0] through the shell for -merge / -fork: make it "python script"
    argv0 = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"
    atheris.Setup([argv0, *sys.argv[1:]], TestOneInput)
    atheris.Fuzz()
