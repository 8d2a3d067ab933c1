#!/bin/bash
# Same-run before/after: the ingestion benchmark on an older commit and on the working tree,
# alternated (before, after, before, after) so that both see the same machine load.
#   nice -n 10 benchmarks/ingest/before_after.sh [BASE_COMMIT] [MESSAGES] > before_after.jsonl
# One JSON object per line: round, code (before/after), 1-minute load, the benchmark's output.
set -euo pipefail
base=${1:-ef668ba}
n=${2:-20000}
repo=$(cd "$(dirname "$0")/../.." && pwd)
old=$(mktemp -d /tmp/mf-before-XXXXXX)
trap 'rm -rf "$old"' EXIT
git -C "$repo" archive "$base" src deploy | tar -x -C "$old"
for round in 1 2; do
  for code in before after; do
    for via in memory mqtt; do
      if [ "$code" = before ]; then src="$old/src"; else src="$repo/src"; fi
      load=$(cut -d' ' -f1 /proc/loadavg)
      out=$(cd "$repo" && PYTHONPATH="$src" .venv/bin/python -m microfactory bench ingest \
        --messages "$n" --via "$via" --no-references --json | tail -1)
      echo "{\"round\": $round, \"code\": \"$code\", \"base\": \"$base\", \"load_1min\": $load, \"result\": $out}"
    done
  done
done
