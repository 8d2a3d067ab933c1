"""Fuzz target: the orders CSV parser (text → order requests).

Input: the file's bytes; they are decoded as `import_orders_csv` does (UTF-8 with an
optional BOM; anything else is its documented refusal). Allowed outcome: order requests, or
the documented `ValidationError` naming every bad line.

Run: python tests/fuzz/orders_csv.py [libFuzzer flags] CORPUS_DIR...
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
    from microfactory.services.orders import parse_orders_csv


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return  # import_orders_csv refuses it before parsing
    with contextlib.suppress(ValidationError):
        for request in parse_orders_csv(text, "fuzz.csv"):
            if not request.lines:
                raise AssertionError("an order without lines was accepted")


if __name__ == "__main__":
    # libFuzzer re-runs argv[0] through the shell for -merge / -fork: make it "python script"
    argv0 = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"
    atheris.Setup([argv0, *sys.argv[1:]], TestOneInput)
    atheris.Fuzz()
