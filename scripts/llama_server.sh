#!/usr/bin/env bash
# llama.cpp's own HTTP server (llama-server) over the product's bundled GGUF model, so several
# answers are generated at once (parallel slots, continuous batching) behind KB_LLM_BACKEND=openai.
#
#   scripts/llama_server.sh build                # once: compiles llama-server (~10 min on 2 cores)
#   scripts/llama_server.sh start [SLOTS] [PORT] [llama-server options...]
#                                                # runs it in the foreground (default: 4 slots, :8080)
#
# Then point every API process at it, with as many answer slots as the server has:
#   KB_LLM_BACKEND=openai KB_LLM_BASE_URL=http://127.0.0.1:8080 KB_LLM_MODEL=<the alias printed>
#   KB_GENERATION_SLOTS=4 kb serve
#
# The sources are the llama.cpp that llama-cpp-python vendors, from its PyPI sdist at the version
# pinned in pyproject.toml (no GitHub or model hub needed); no web UI, no curl/OpenSSL (the model is a
# local file). Environment: KB_LLAMA_SERVER_DIR (build folder, default ~/.cache/kb-platform/
# llama-server), KB_LLM_PROFILE / KB_LLM_MODEL_PATH / KB_DATA_DIR (which model, as for `kb serve`),
# LLAMA_THREADS (default: all cores), LLAMA_CTX_PER_SLOT (default 4096, the product's KB_LLM_CTX).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"
DIR="${KB_LLAMA_SERVER_DIR:-$HOME/.cache/kb-platform/llama-server}"
VERSION="$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)"
SRC="$DIR/llama_cpp_python-$VERSION/vendor/llama.cpp"
BIN="$DIR/build/bin/llama-server"

build() {
    mkdir -p "$DIR"
    if [ ! -d "$SRC" ]; then
        "$PY" -m pip download --quiet --no-deps --no-binary :all: --dest "$DIR" "llama-cpp-python==$VERSION"
        tar -xzf "$DIR/llama_cpp_python-$VERSION.tar.gz" -C "$DIR"
    fi
    # GGML_NATIVE=ON: tuned to this CPU (build on the machine that serves). CUDA: add -DGGML_CUDA=ON.
    cmake -S "$SRC" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${LLAMA_CMAKE_ARGS:-}
    nice cmake --build "$DIR/build" --target llama-server -j "$(nproc)"
    echo "built $BIN" >&2
}

start() {
    local slots="${1:-4}" port="${2:-8080}" model alias
    shift "$(($# < 2 ? $# : 2))"
    [ -x "$BIN" ] || { echo "no $BIN: run scripts/llama_server.sh build first" >&2; exit 1; }
    # The same file `kb serve` would load: KB_LLM_MODEL_PATH, else the bundled profile, joined and
    # sha256-checked into the data dir by generation.bundled.
    model="$("$PY" -c '
from generation.bundled import ensure_model
from core.settings import load_settings
s = load_settings()
print(s.llm_model_path or ensure_model(s.llm_profile, s.data_dir / "models"))')"
    alias="$(basename "$model" .gguf)"
    cat >&2 <<EOF
llama-server: $slots slots on 127.0.0.1:$port serving $model
point the product at it:
  export KB_LLM_BACKEND=openai KB_LLM_BASE_URL=http://127.0.0.1:$port KB_LLM_MODEL=$alias KB_GENERATION_SLOTS=$slots
EOF
    # Each slot gets the context one in-process answer has; the KV cache is split between the slots.
    exec "$BIN" --model "$model" --alias "$alias" --host "${LLAMA_HOST:-127.0.0.1}" --port "$port" \
        --parallel "$slots" --cont-batching --no-kv-unified \
        --ctx-size "$((slots * ${LLAMA_CTX_PER_SLOT:-4096}))" \
        --threads "${LLAMA_THREADS:-$(nproc)}" --threads-batch "${LLAMA_THREADS:-$(nproc)}" --no-webui "$@"
}

case "${1:-}" in
    build) build ;;
    start) shift; start "$@" ;;
    *) echo "usage: $0 build | start [SLOTS] [PORT] [llama-server options...]" >&2; exit 2 ;;
esac
