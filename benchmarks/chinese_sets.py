"""Writes the Chinese evaluation sets drawn from the CMRC 2018 trial data (seeded):

- ``benchmarks/data/answers_cmrc_zh_50_plus_10_offtopic.jsonl``: 50 questions with short gold answers
  and 10 off-topic Chinese questions the CMRC paragraphs cannot answer (``kb eval answers``);
- ``benchmarks/data/cmrc_trial_200.queries.jsonl``: 200 of its 1,002 questions for ``kb eval
  retrieval`` through a knowledge base (each query is embedded per variant, so the full set takes an
  hour with EmbeddingGemma on a shared CPU; the full set was measured from cached candidate lists in
  ``benchmarks/embedder_eval.py``).

Both are asked over a base of all 256 CMRC paragraphs (commands in docs/benchmarks.md, section
multilingual). Usage: ``python -m benchmarks.chinese_sets [--shared ../shared/datasets]``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from benchmarks.datasets import DATA, DEFAULT_SHARED, _datasets_dir

OUT = DATA / "answers_cmrc_zh_50_plus_10_offtopic.jsonl"
RETRIEVAL_OUT = DATA / "cmrc_trial_200.queries.jsonl"
SHORT = 12  # characters: a "short answer" is a name, a place, a date or a number, not a sentence
# Questions an employee, a shopper or an investor might ask; none is about the Wikipedia paragraphs
# (checked: their key words do not occur in the CMRC corpus).
OFF_TOPIC = (
    "公司的年假政策是怎样的？",
    "明天北京的天气怎么样？",
    "苹果公司2023年第三季度的营收是多少？",
    "如何重置我的VPN密码？",
    "出差报销需要提交哪些发票？",
    "这款儿童自行车适合几岁的孩子？",
    "比特币现在的价格是多少？",
    "员工每年的体检费用可以报销多少？",
    "怎样申请育儿假？",
    "公司的差旅住宿标准是每晚多少钱？",
)


def write(shared: Path = DEFAULT_SHARED, n: int = 50, seed: int = 0) -> int:
    """Write the set; returns how many answerable questions it holds."""
    source = _datasets_dir(shared) / "cmrc2018_trial_zh" / "qa.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    short = [r for r in rows if r["question"].strip() and min(len(s) for s in r["answer_spans"]) <= SHORT]
    chosen = sorted(random.Random(seed).sample(short, n), key=rows.index)
    with OUT.open("w", encoding="utf-8") as out:
        for row in chosen:
            gold = min(row["answer_spans"], key=len)
            record = {
                "question": row["question"],
                "answer": gold,
                "answer_spans": [gold],
                "metadata": {"id": row["id"]},
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        for question in OFF_TOPIC:
            out.write(
                json.dumps({"question": question, "answer": None, "answerable": False}, ensure_ascii=False)
                + "\n"
            )
    return len(chosen)


def write_retrieval_sample(shared: Path = DEFAULT_SHARED, n: int = 200, seed: int = 0) -> int:
    """Write a seeded sample of the CMRC queries (BEIR queries.jsonl lines, file order kept)."""
    source = _datasets_dir(shared) / "cmrc2018_trial_zh" / "queries.jsonl"
    lines = [x for x in source.read_text(encoding="utf-8").splitlines() if x.strip()]
    lines = [x for x in lines if json.loads(x)["text"].strip()]
    chosen = sorted(random.Random(seed).sample(range(len(lines)), n))
    RETRIEVAL_OUT.write_text("".join(lines[i] + "\n" for i in chosen), encoding="utf-8")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared datasets folder")
    args = parser.parse_args()
    print(f"wrote {write(args.shared)} answerable + {len(OFF_TOPIC)} off-topic questions to {OUT}")
    print(f"wrote {write_retrieval_sample(args.shared)} queries to {RETRIEVAL_OUT}")


if __name__ == "__main__":
    main()
