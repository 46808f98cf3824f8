#!/usr/bin/env bash
# Install the product and run it on its embedded defaults (SQLite + local FAISS + bundled models):
# builds four demo knowledge bases from samples/ (customer service, finance, retail, and a Chinese
# one embedded with the multilingual model: EmbeddingGemma, Gemma terms of use), creates demo
# users (development mode only), then starts the API and the UI and prints the URL and the logins.
# Re-running reuses what was built (unchanged files are skipped by content hash).
#
# Usage: scripts/demo.sh            run until Ctrl-C
#        scripts/demo.sh --check    build, start, verify over HTTP (log in, ask each base), stop
# Environment: KB_DATA_DIR (default ./data), KB_DEMO_LLM_PROFILE (default: the 1.5B `default` model),
#              KB_DEMO_API_PORT (8000), KB_DEMO_UI_PORT (8501)
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=0
if [ "${1:-}" = "--check" ]; then CHECK=1; fi
PROFILE="${KB_DEMO_LLM_PROFILE:-default}"
API_PORT="${KB_DEMO_API_PORT:-8000}"
UI_PORT="${KB_DEMO_UI_PORT:-8501}"

bash scripts/bootstrap.sh cpu,postgres,milvus,dev,llm "$PROFILE" gemma
export KB_DATA_DIR="${KB_DATA_DIR:-$PWD/data}"
export KB_ENVIRONMENT=development KB_LLM_PROFILE="$PROFILE"
export KB_API_URL="http://127.0.0.1:$API_PORT"
KB=.venv/bin/kb
started=$(date +%s)

echo "== Demo accounts (development mode: well-known passwords)"
LOGINS="$($KB users demo)"
$KB bases create customer-service --scenario customer_service --exist-ok --read-group everyone \
    --description "Contoso HR and benefits policies (customer service: agents draft replies from them)"
$KB bases create finance --scenario finance --exist-ok --read-group finance \
    --description "SEC 10-Q filings of Apple and NVIDIA, 2023 Q3 (readable by the finance group)"
$KB bases create retail --scenario retail --exist-ok --read-group everyone \
    --description "Product facts and shopper Q&A for 14 toys and games (hetPQA)"
$KB bases create zh-wiki --scenario employee --exist-ok --read-group everyone --embedder multilingual \
    --description "中文百科：12 篇中文维基百科段落（CMRC 2018，CC BY-SA 4.0），可用中文或英文提问"

echo "== Ingest (incremental: unchanged files are skipped)"
$KB ingest samples/customer_service/*.pdf --kb customer-service --tag customer_service
$KB ingest samples/finance/*.pdf --kb finance --tag finance
$KB ingest samples/retail/B0*.md --kb retail --tag retail
$KB ingest samples/chinese/wiki --kb zh-wiki
$KB bases list
echo "knowledge bases ready in $(( $(date +%s) - started )) s"

mkdir -p "$KB_DATA_DIR/logs"
$KB serve --host 127.0.0.1 --port "$API_PORT" >"$KB_DATA_DIR/logs/api.log" 2>&1 &
API_PID=$!
$KB ui --host 127.0.0.1 --port "$UI_PORT" --api-url "$KB_API_URL" >"$KB_DATA_DIR/logs/ui.log" 2>&1 &
UI_PID=$!
trap 'kill $API_PID $UI_PID 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

wait_for() {  # url, name, pid, log
    for _ in $(seq 1 240); do
        if .venv/bin/python -c "import httpx,sys; sys.exit(httpx.get('$1', timeout=2).status_code != 200)" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$3" 2>/dev/null; then
            echo "$2 stopped; its log ($4):" >&2
            tail -20 "$4" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "$2 did not answer at $1 within 120 s; see $4" >&2
    exit 1
}
wait_for "$KB_API_URL/health" "the API" "$API_PID" "$KB_DATA_DIR/logs/api.log"
wait_for "http://127.0.0.1:$UI_PORT/_stcore/health" "the UI" "$UI_PID" "$KB_DATA_DIR/logs/ui.log"

cat <<MSG

  The demo is running (built and started in $(( $(date +%s) - started )) s).
  UI:   http://127.0.0.1:$UI_PORT
  API:  $KB_API_URL   (OpenAPI docs at $KB_API_URL/docs)
  Logins:
$LOGINS
  The employee reads all four bases (zh-wiki: ask in Chinese or English); the agent cannot read finance; the admin manages everything.
  Logs: $KB_DATA_DIR/logs/. Stop with Ctrl-C.

MSG

if [ "$CHECK" -eq 1 ]; then
    .venv/bin/python scripts/demo_check.py "$KB_API_URL" "http://127.0.0.1:$UI_PORT"
    exit 0
fi
wait
