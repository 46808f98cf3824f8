"""Embedding cost per passage of every registry embedder on the same Chinese and English texts.

Usage: .venv/bin/python -m benchmarks.embedder_speed [--models-dir /tmp/embed_models]
32 CMRC paragraphs cut to 200 characters and 32 TAT-QA passages cut to 900 characters, batch 16,
after one warm-up call. Prints wall-clock passages/s and CPU seconds per passage (process time: on a
shared machine the wall clock measures the neighbours as much as the model; CPU time much less).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.datasets import DEFAULT_SHARED
from core.embedders import SPECS
from ingest.embedder import build_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("/tmp/embed_models"))
    args = parser.parse_args()
    root = DEFAULT_SHARED
    with open(root / "cmrc2018_trial_zh" / "corpus.jsonl", encoding="utf-8") as handle:
        zh = [json.loads(line)["text"][:200] for line in handle][:32]
    with open(root / "tatqa_dev" / "derived_beir_dev" / "corpus.jsonl", encoding="utf-8") as handle:
        en = [json.loads(line)["text"][:900] for line in handle][:32]
    for key in ("minilm", "minilm-int8", "e5-small", "embeddinggemma"):
        embedder = build_embedder(SPECS[key], models_dir=args.models_dir, batch_size=16)
        embedder.embed(zh[:2])
        for name, texts in (("zh200chars", zh), ("en900chars", en)):
            cpu0, start = time.process_time(), time.perf_counter()
            embedder.embed(texts)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - start
            row = {
                "embedder": key,
                "texts": name,
                "n": len(texts),
                "passages_per_s": round(len(texts) / wall, 2),
                "cpu_s_per_passage": round(cpu / len(texts), 3),
                "load": os.getloadavg()[0],
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
