#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its CPU extras. Idempotent.
# Usage: scripts/bootstrap.sh [extra,extra...]   (default: cpu,postgres,dev)
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-cpu,postgres,dev}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Old pip fails to resolve langchain: upgrade first.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${EXTRAS}]"
