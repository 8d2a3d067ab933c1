"""Markdown tables from twt/run.py's JSON lines: per instance the reference value (with its
kind, see README.md), each solver's checked weighted tardiness and gap, and per due-date
factor the mean gap and the number of instances at the reference value.

    .venv/bin/python benchmarks/schedule/twt/table.py results/twt60.jsonl [more.jsonl ...]

The gap of a value v against a reference b > 0 is 100 * (v - b) / b; instances whose
reference is 0 count only towards "at reference".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KIND = {"optimum": "opt", "published": "pub", "cpsat-found": "cp", "found": "found"}


def load(paths: list[Path]) -> dict[tuple[float, str], dict[str, dict[str, Any]]]:
    """(time limit, instance) -> solver -> row (the last row wins)."""
    runs: dict[tuple[float, str], dict[str, dict[str, Any]]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                runs.setdefault((row["time_limit"], row["instance"]), {})[row["solver"]] = row
    return runs


def _value(row: dict[str, Any] | None) -> int | None:
    if not row or not row.get("feasible"):
        return None
    value = row.get("weighted_tardiness")
    return int(value) if value is not None else None


def tables(paths: list[Path]) -> str:
    reference = json.loads((HERE / "best_known.json").read_text())
    runs = load(paths)
    solvers = [s for s in ("ours", "pyjobshop", "textbook") if any(s in r for r in runs.values())]
    out: list[str] = []
    for limit in sorted({key[0] for key in runs}):
        head = "".join(f" {s} | {s} gap % |" for s in solvers)
        out += [
            f"#### {limit:g} s per instance, 2 workers",
            "",
            f"| instance | reference | kind |{head}",
            "|---|---|---|" + "---|---|" * len(solvers),
        ]
        summary: dict[str, dict[str, dict[str, list[float] | int]]] = {}
        names = sorted(
            (name for lim, name in runs if lim == limit), key=lambda n: (n.split("_")[1], n)
        )
        for name in names:
            ref = reference[name]["reference"]
            f = name.split("_")[1]
            cells = []
            for solver in solvers:
                value = _value(runs[(limit, name)].get(solver))
                slot = summary.setdefault(f, {}).setdefault(solver, {"gaps": [], "at": 0, "n": 0})
                slot["n"] = int(slot["n"]) + 1  # type: ignore[call-overload]
                gap = None
                if value is not None:
                    if value <= ref:
                        slot["at"] = int(slot["at"]) + 1  # type: ignore[call-overload]
                    if ref > 0:
                        gap = 100.0 * (value - ref) / ref
                        slot["gaps"].append(gap)  # type: ignore[union-attr]
                cells.append(f" {value if value is not None else '-'} | {_fmt(gap)} |")
            kind = KIND[reference[name]["kind"]]
            out.append(f"| {name} | {ref} | {kind} |{''.join(cells)}")
        out += [
            "",
            "| factor | solver | instances | at or below reference | mean gap % (ref > 0) |",
            "|---|---|---|---|---|",
        ]
        for f in sorted(summary):
            for solver in solvers:
                slot = summary[f][solver]
                gaps = slot["gaps"]
                assert isinstance(gaps, list)
                mean = sum(gaps) / len(gaps) if gaps else None
                out.append(
                    f"| {f} | {solver} | {slot['n']} | {slot['at']} | {_fmt(mean)} "
                    f"({len(gaps)} with ref > 0) |"
                )
        out.append("")
    return "\n".join(out) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    print(tables([Path(p) for p in sys.argv[1:]]))
