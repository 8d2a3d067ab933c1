#!/usr/bin/env bash
# Install OctoPrint (the printer host the print-farm tests and benchmarks run against) into its
# own virtual environment, .venv-octoprint/ at the repository root (override with
# OCTOPRINT_VENV). OctoPrint pins its own dependencies (an older pydantic among them), so it
# cannot share the project's .venv. Idempotent and cached: does nothing when the pinned version
# is already installed. Prints the path of the `octoprint` executable on success.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OCTOPRINT_VENV:-$ROOT/.venv-octoprint}"
VERSION="${OCTOPRINT_VERSION:-1.11.8}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-$VERSION"

if [ ! -f "$STAMP" ]; then
  echo "installing OctoPrint $VERSION into $VENV" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "octoprint==$VERSION" >&2
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
echo "$VENV/bin/octoprint"
