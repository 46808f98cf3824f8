#!/usr/bin/env bash
# Install the product and run it on its embedded defaults (SQLite + local FAISS + bundled models):
# builds the demo knowledge bases from the sample documents in samples/, lists what they hold, and
# answers one question per base with the local LLM, citing the pages it used.
# Re-running reuses what was built (unchanged files are skipped by content hash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh cpu,postgres,dev,llm default
export KB_DATA_DIR="${KB_DATA_DIR:-$PWD/data}"
KB=.venv/bin/kb

$KB bases create customer-service --scenario customer_service --exist-ok \
    --description "Contoso HR and benefits policies"
$KB ingest samples/customer_service/*.pdf --kb customer-service --tag customer_service
$KB bases create finance --scenario finance --exist-ok --description "SEC 10-Q filings (Apple, NVIDIA)"
$KB ingest samples/finance/*.pdf --kb finance --tag finance

$KB bases list
for base in customer-service finance; do
    echo "== $base"
    $KB docs list --kb "$base"
done
echo
echo "== Ask (local LLM: Qwen2.5 1.5B via llama.cpp; the first call assembles and loads the model)"
$KB ask "What can I use PerksPlus for?" --kb customer-service --scenario customer_service
$KB ask "What was Apple's total net sales in the third quarter of 2023?" --kb finance --scenario finance
echo
echo "Data lives in $KB_DATA_DIR. Try: KB_DATA_DIR=$KB_DATA_DIR $KB search \"parental leave\" --kb customer-service"
