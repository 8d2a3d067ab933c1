"""Keep the best verified plan of every instance as a reference (`found/`), so that no
reference in `best_known.json` stays above a plan anyone can check.

    .venv/bin/python benchmarks/schedule/twt/found.py DIR|ROWS.jsonl [...]

Each DIR holds solution files `<instance>.json` in the contract's format (as run.py
writes them under `--solutions/<solver>/`; subfolders are searched too). Every file is
verified by `check.py`; a feasible plan at or below the instance's reference whose
recomputed objective is below the stored `found/<instance>.json` (or with none stored)
replaces it, so `found/` holds a checkable plan for a reference wherever one of ours
reached it. Then, for every instance whose
reference is not a proven optimum, a kept plan below the reference lowers it:
`reference` = the plan's value, `kind` = `found` (the earlier value stays in its own key).
A plan below a proven optimum is reported and stops the script (exit 1): the optimum or
the checker would be wrong.

A ROWS.jsonl argument (run.py's rows) lowers a reference the same way from a row that
run.py verified with check.py when the plan itself was not kept (earlier sessions kept
only the rows); `found_row` then names the file and solver instead of a plan in `found/`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from check import check  # noqa: E402


def collect(dirs: list[Path]) -> dict[str, tuple[int, dict[str, object], Path]]:
    """Instance -> (value, solution, file) of the best feasible plan in `dirs`."""
    best: dict[str, tuple[int, dict[str, object], Path]] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*.json")):
            instance_path = HERE / "instances" / path.name
            if not instance_path.exists():
                continue
            solution = json.loads(path.read_text())
            errors, total = check(json.loads(instance_path.read_text()), solution)
            if errors or total is None:
                print(f"{path}: not kept: {errors[:2]}", file=sys.stderr)
                continue
            name = path.stem
            if name not in best or total < best[name][0]:
                best[name] = (total, solution, path)
    return best


def checked_rows(paths: list[Path]) -> dict[str, tuple[int, str]]:
    """Instance -> (value, "file: solver") of the best row that run.py verified with
    check.py (feasible, the checker's objective) in the JSON-lines files `paths`."""
    best: dict[str, tuple[int, str]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line) if line.strip() else {}
            value = row.get("weighted_tardiness")
            if not row.get("feasible") or value is None:
                continue
            name = row["instance"]
            if name not in best or value < best[name][0]:
                best[name] = (int(value), f"{path.name}: {row['solver']}")
    return best


def main(argv: list[str]) -> int:
    store = HERE / "found"
    store.mkdir(exist_ok=True)
    references = json.loads((HERE / "best_known.json").read_text())
    rows = [Path(a) for a in argv if a.endswith(".jsonl")]
    dirs = [Path(a) for a in argv if not a.endswith(".jsonl")]
    for name, (value, source_row) in sorted(checked_rows(rows).items()):
        entry = references[name]
        if value < entry["reference"] and entry["kind"] != "optimum":
            print(f"{name}: reference {entry['reference']} ({entry['kind']}) -> {value} (row)")
            entry.setdefault("previous_reference", entry["reference"])
            entry.setdefault("previous_kind", entry["kind"])
            entry["reference"], entry["kind"] = value, "found"
            entry["found_row"] = source_row
        elif value < entry["reference"]:
            print(f"{name}: row of {value} below the proven optimum {entry['reference']}")
            return 1
    for name, (value, solution, source) in sorted(collect(dirs).items()):
        if value > references[name]["reference"]:
            continue  # a witness of a reference only, not every plan anyone found
        kept = store / f"{name}.json"
        if kept.exists():
            previous = json.loads(kept.read_text())
            if check(json.loads((HERE / "instances" / kept.name).read_text()), previous)[0]:
                print(f"{kept}: stored plan fails the checker", file=sys.stderr)
                return 1
            if int(previous["objective"]) <= value:
                continue
        kept.write_text(json.dumps({"objective": value, "starts": solution["starts"]}) + "\n")
        print(f"{name}: kept {value} from {source}")
    failed = False
    for kept in sorted(store.glob("*.json")):
        name, entry = kept.stem, references[kept.stem]
        value = int(json.loads(kept.read_text())["objective"])
        entry["found"] = value
        if value >= entry["reference"]:
            continue
        if entry["kind"] == "optimum":
            print(f"{name}: plan of {value} below the proven optimum {entry['reference']}")
            failed = True
            continue
        print(f"{name}: reference {entry['reference']} ({entry['kind']}) -> {value} (found)")
        entry.setdefault("previous_reference", entry["reference"])
        entry.setdefault("previous_kind", entry["kind"])
        entry["reference"], entry["kind"] = value, "found"
    (HERE / "best_known.json").write_text(json.dumps(references, indent=1, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
