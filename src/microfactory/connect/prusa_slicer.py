"""PrusaSlicer's command line as the `Slicer` port (Debian package `prusa-slicer`).

`prusa-slicer --export-gcode --load PROFILE.ini [--key=value ...] [--duplicate N]
-o OUT.gcode MODEL.stl` with a private `--datadir`, so nothing of the user's
PrusaSlicer configuration leaks in. The slicer's estimates are read from the comments it writes
into the G-code: `; estimated printing time (normal mode) = 1h 2m 3s`,
`; total filament used [g] = 12.34` and `; filament used [mm] = 4567.8`.

A model the slicer refuses (it does not fit the bed, the file is not a model, nothing to
extrude) raises `ValidationError` with the slicer's own reason; a missing slicer, a crash or a
timeout raises `ConnectorError`.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.shopfloor.printers import SliceResult

_TIME = re.compile(r"^; estimated printing time \(normal mode\) = (.+)$", re.M)
_GRAMS = re.compile(r"^; total filament used \[g\] = ([0-9.]+)", re.M)
_GRAMS_ONE = re.compile(r"^; filament used \[g\] = ([0-9.]+)", re.M)
_MM = re.compile(r"^; filament used \[mm\] = ([0-9.]+)", re.M)
_WHAT = re.compile(r"what\(\):\s*(.+)")
_ERROR_LINE = re.compile(r"(?:\[error\]|^error:)\s*(.+)", re.M)
_OVERRIDE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TAIL_BYTES = 64 * 1024
"""The estimates are written at the end of the G-code: only its tail is read."""


def parse_duration(text: str) -> float:
    """`1d 2h 3m 4s` (any subset) in seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)\s*([dhms])", text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return float(sum(int(n) * units[u] for n, u in parts))


def read_estimates(gcode: Path) -> tuple[float, float, float | None]:
    """(print time s, filament g, filament mm) from PrusaSlicer's G-code comments."""
    with gcode.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read().decode("utf-8", errors="replace")
    t = _TIME.search(tail)
    g = _GRAMS.search(tail) or _GRAMS_ONE.search(tail)
    if t is None or g is None:
        raise ConnectorError(f"prusa-slicer wrote no time or filament estimate into {gcode.name}")
    mm = _MM.search(tail)
    return parse_duration(t.group(1)), float(g.group(1)), None if mm is None else float(mm.group(1))


def read_profile(path: Path) -> dict[str, str]:
    """The `key = value` lines of a PrusaSlicer .ini (comments and sections skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


class PrusaSlicer:
    """The slicer adapter. `executable` is looked up on PATH."""

    def __init__(self, executable: str = "prusa-slicer", *, timeout_s: float = 900.0) -> None:
        self.executable = executable
        self.timeout_s = timeout_s

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def profile_settings(self, profile: Path) -> dict[str, str]:
        return read_profile(profile)

    def slice(
        self,
        model: bytes,
        name: str,
        profile: Path,
        out: Path,
        *,
        copies: int = 1,
        overrides: Mapping[str, str] | None = None,
    ) -> SliceResult:
        """Slice `model` (STL/3MF/OBJ bytes; `name` says which and names it in messages)."""
        suffix = Path(name).suffix.lower() or ".stl"
        with tempfile.TemporaryDirectory(prefix="mf-slice-") as tmp:
            path = Path(tmp) / f"model{suffix}"
            path.write_bytes(model)
            return self.slice_file(
                path, profile, out, copies=copies, overrides=overrides, name=name
            )

    def slice_file(
        self,
        model: Path,
        profile: Path,
        out: Path,
        *,
        copies: int = 1,
        overrides: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> SliceResult:
        """Slice the model file at `model`."""
        shown = name or model.name
        exe = shutil.which(self.executable)
        if exe is None:
            raise ConnectorError(
                f"{self.executable} not found: install Debian's prusa-slicer "
                "(scripts/ensure-test-services.sh does)"
            )
        if copies < 1:
            raise ValueError("copies must be at least 1")
        if not profile.is_file():
            raise ValidationError("profile file not found", where=str(profile))
        args = [exe, "--loglevel", "1", "--export-gcode", "--load", str(profile)]
        for key, value in sorted((overrides or {}).items()):
            if not _OVERRIDE_KEY.match(key) or "\n" in value:
                raise ValueError(f"bad slicer setting {key!r}")
            args.append(f"--{key.replace('_', '-')}={value}")
        if copies > 1:
            args += ["--duplicate", str(copies)]
        # no --center: the slicer arranges the copies on the bed itself, and refuses what
        # does not fit ("Objects could not fit on the bed")
        args += ["-o", str(out), str(model)]
        out.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mf-prusa-") as datadir:
            try:
                proc = subprocess.run(
                    [*args[:1], "--datadir", datadir, *args[1:]],
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                out.unlink(missing_ok=True)
                raise ConnectorError(
                    f"prusa-slicer did not finish {shown} in {self.timeout_s:g} s"
                ) from None
            except OSError as exc:
                raise ConnectorError(f"prusa-slicer could not run: {exc}") from None
        seconds = time.perf_counter() - started
        if proc.returncode != 0 or not out.is_file():
            out.unlink(missing_ok=True)
            raise _failure(shown, proc.returncode, proc.stdout + "\n" + proc.stderr)
        print_s, grams, mm = read_estimates(out)
        return SliceResult(out, print_s, grams, mm, seconds)


def _failure(model: str, code: int, output: str) -> Exception:
    """A refusal the slicer explains (exit 1, or an abort on its own RuntimeError) is the
    model's fault; any other death is the slicer's."""
    reasons = _WHAT.findall(output) or [
        line.strip()
        for line in output.splitlines()
        if "failed" in line.lower() and "[trace]" not in line
    ]
    reasons += _ERROR_LINE.findall(output)
    refused = code in (1, -signal.SIGABRT, 134)
    if refused and reasons:
        return ValidationError(f"the slicer refused the model: {reasons[0].strip()}", where=model)
    tail = " | ".join(line for line in output.strip().splitlines()[-3:] if "[trace]" not in line)
    how = f"signal {-code}" if code < 0 else f"exit {code}"
    return ConnectorError(f"prusa-slicer crashed on {model} ({how}): {tail or 'no output'}")
