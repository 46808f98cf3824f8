#!/usr/bin/env bash
# Install everything and run the whole test suite (what CI runs). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
# tiny: fast model tests; default: the demo's 1.5B model, which the browser test of the answer steps uses
bash scripts/bootstrap.sh cpu,postgres,dev,llm tiny,default

echo "lint: ruff + mypy" >&2
.venv/bin/ruff check .
.venv/bin/mypy

PGDIR="$(mktemp -d /tmp/kb-pg.XXXXXX)"
trap 'bash scripts/pg_throwaway.sh stop "$PGDIR"' EXIT
KB_TEST_POSTGRES_URL="$(bash scripts/pg_throwaway.sh start "$PGDIR" "${KB_TEST_PG_PORT:-55432}")"
export KB_TEST_POSTGRES_URL

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating as failure" >&2
    exit 1
fi
exit "$status"
