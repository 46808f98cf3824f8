"""Machine-translate seeded samples of dev questions for the cross-lingual sets (step 1 of 2).

Usage: .venv/bin/python -m benchmarks.translate_queries [--n 50]
Writes benchmarks/data/xling_*.llm.jsonl: 50 CMRC questions (seed 0) in English and 50 judged Contoso
questions (seed 0) in Chinese, translated by the bundled default LLM (Qwen2.5-Coder-1.5B Q4_K_M,
llama.cpp, temperature 0). Step 2 is by hand: each translation is read next to its source and kept or
corrected into the final ``*.queries.jsonl`` (benchmarks/data/crosslingual.md says what changed).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from benchmarks.datasets import DATA, DEFAULT_SHARED
from core.settings import Settings
from generation.backends.factory import build_generator
from retrieval.metrics import read_qrels, read_queries

PROMPTS = {
    "en": "Translate this Chinese question into natural English. Reply with the English question only.",
    "zh": "把这个英文问题翻译成自然的简体中文。只回复中文问题本身。",
}


def sample(queries: Path, qrels: Path, n: int) -> list[tuple[str, str]]:
    """``n`` judged questions, drawn with seed 0, in file order."""
    judged = read_qrels(qrels)
    items = [(qid, text) for qid, text in read_queries(queries).items() if qid in judged]
    picked = sorted(random.Random(0).sample(range(len(items)), n))
    return [items[i] for i in picked]


def translate(generator, text: str, target: str) -> str:  # type: ignore[no-untyped-def]
    messages = [{"role": "system", "content": PROMPTS[target]}, {"role": "user", "content": text}]
    return str(generator.complete(messages, max_tokens=96, temperature=0.0).text).strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    settings = Settings()
    generator = build_generator("llamacpp", profile="default", models_dir=settings.data_dir / "models")
    root = DEFAULT_SHARED
    jobs = {
        "xling_cmrc_en": (
            "en",
            root / "cmrc2018_trial_zh" / "queries.jsonl",
            root / "cmrc2018_trial_zh" / "qrels" / "test.tsv",
        ),
        "xling_contoso_zh": (
            "zh",
            root / "contoso_hr_benefits" / "derived" / "queries.jsonl",
            root / "contoso_hr_benefits" / "derived" / "qrels_page_level.tsv",
        ),
    }
    for name, (target, queries, qrels) in jobs.items():
        out = DATA / f"{name}_{args.n}.llm.jsonl"
        with open(out, "w", encoding="utf-8") as handle:
            for qid, text in sample(queries, qrels, args.n):
                record = {"_id": qid, "source_text": text, "llm_text": translate(generator, text, target)}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                print(json.dumps(record, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
