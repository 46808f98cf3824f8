"""Answer-check thresholds per embedding model, from labelled pairs the models have not seen.

Cosines of different models live on different scales (EmbeddingGemma and e5 put unrelated text far
higher than MiniLM does), so each model gets its own thresholds (``core.embedders.EmbedderSpec``):

- ``support_similarity``, "a passage sentence says the same as the answer sentence": positives are
  the 99 hand-checked translation pairs of the cross-lingual sets (a Chinese question and its English
  version: the same meaning in other words, and in another language, the hardest case the check
  meets), negatives every mismatched pair of the same set (same domain, other meaning). Threshold:
  the lowest cosine that at most 2 % of negatives reach (precision first: a wrong "supported" shows
  an unsupported sentence).
- ``quote_similarity``, "this passage sentence answers the question": positives are CMRC questions
  with the sentence of their paragraph holding the gold answer, negatives the other sentences of the
  same paragraph. Threshold: the lowest cosine at most 10 % of negatives reach (a quote is only
  offered after the model's own answer failed its checks, and must still answer).
- ``min_evidence``, "the base holds something about this": the best dense cosine of answerable CMRC
  questions (not in the answer-evaluation set) over the whole CMRC base, against Chinese questions on
  other topics. Threshold: the 2nd percentile of the answerable ones (it only saves the model's time:
  the model and the checks still abstain above it), with the share of off-topic questions it stops.

Usage (a base of the 256 CMRC paragraphs built with the model, see docs/benchmarks.md, section
multilingual)::

    python -m benchmarks.threshold_calibration --embedder embeddinggemma --kb cmrc [--questions 150]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from app.context import AppContext
from benchmarks.datasets import DATA, DEFAULT_SHARED, _datasets_dir
from benchmarks.multilingual_sets import XLING_EN_QUERIES, XLING_ZH_QUERIES
from core.embedders import resolve_embedder
from core.settings import load_settings
from generation.sentences import split_sentences
from retrieval.evaluation import EVAL_PRINCIPAL
from retrieval.filters import SearchFilters

EVAL_SET = DATA / "answers_cmrc_zh_50_plus_10_offtopic.jsonl"
# Questions on other topics than the CMRC paragraphs (disjoint from the evaluation set's ten).
OFF_TOPIC_DEV = (
    "我们部门下个季度的预算是多少？",
    "怎么在系统里提交请假申请？",
    "公司的股票代码是什么？",
    "这台洗衣机的保修期是几年？",
    "如何开具增值税专用发票？",
    "新员工入职需要准备哪些材料？",
    "会议室怎么预订？",
    "这款手机支持无线充电吗？",
    "加班费怎么计算？",
    "退货的运费由谁承担？",
    "公积金的缴纳比例是多少？",
    "怎样修改我的工资卡信息？",
    "这个玩具适合三岁以下的孩子吗？",
    "年终奖什么时候发放？",
    "怎么连接办公室的打印机？",
    "客户投诉应该在多少小时内回复？",
    "差旅期间的餐补标准是多少？",
    "这件外套可以机洗吗？",
    "试用期是几个月？",
    "季度财报什么时候发布？",
)


def _translation_pairs() -> list[tuple[str, str]]:
    pairs = []
    for path in (XLING_EN_QUERIES, XLING_ZH_QUERIES):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            pairs.append((row["text"], row["metadata"]["source_text"]))
    return pairs


def _cmrc(shared: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    root = _datasets_dir(shared) / "cmrc2018_trial_zh"
    corpus = {
        r["_id"]: r["text"] for r in map(json.loads, (root / "corpus.jsonl").read_text("utf-8").splitlines())
    }
    qa = [json.loads(x) for x in (root / "qa.jsonl").read_text("utf-8").splitlines() if x.strip()]
    held_out = {json.loads(x).get("metadata", {}).get("id") for x in EVAL_SET.read_text("utf-8").splitlines()}
    return corpus, [q for q in qa if q["question"].strip() and q["id"] not in held_out]


def _lowest_passing(negatives: np.ndarray, share: float) -> float:
    """The lowest threshold (2 decimals) that at most ``share`` of the negatives reach."""
    return round(float(np.quantile(negatives, 1.0 - share)) + 0.005, 2)


def calibrate(embedder: str, kb: str, questions: int, shared: Path, seed: int = 0) -> dict[str, Any]:
    """Thresholds for ``embedder`` and the figures behind them."""
    spec = resolve_embedder(embedder)
    ctx = AppContext(load_settings())
    model = ctx.models.embedder(spec.key)
    rng = random.Random(seed)

    pairs = _translation_pairs()
    a = model.embed([p[0] for p in pairs])
    b = model.embed([p[1] for p in pairs])
    cos = a @ b.T
    pos = np.diag(cos)
    neg = cos[~np.eye(len(pairs), dtype=bool)]
    support = _lowest_passing(neg, 0.02)

    corpus, qa = _cmrc(shared)
    sample = rng.sample(qa, min(questions, len(qa)))
    q_pos, q_neg = [], []
    for item in sample:
        paragraph = corpus[item["id"].rsplit("_QUERY_", 1)[0]]
        units = [u for u in split_sentences(paragraph) if len(u) > 4]
        gold = min(item["answer_spans"], key=len)
        holding = [i for i, u in enumerate(units) if gold in u]
        if not holding or len(units) < 2:
            continue
        vectors = model.embed(units)
        query = model.embed([item["question"]])[0]
        scores = vectors @ query
        q_pos.append(float(max(scores[i] for i in holding)))
        q_neg += [float(s) for i, s in enumerate(scores) if i not in holding]
    quote = _lowest_passing(np.asarray(q_neg), 0.10)

    def top1(question: str) -> float:
        hits = ctx.dense.search(question, k=1, filters=SearchFilters(kbs=(kb,)), principal=EVAL_PRINCIPAL)
        return float(hits[0].dense_score or 0.0) if hits else 0.0

    answerable = np.asarray([top1(item["question"]) for item in sample])
    off_topic = np.asarray([top1(q) for q in OFF_TOPIC_DEV])
    evidence = round(float(np.quantile(answerable, 0.02)) - 0.005, 2)

    def pct(values: np.ndarray) -> dict[str, float]:
        return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (2, 10, 50, 90)}

    return {
        "embedder": spec.key,
        "kb": kb,
        "support_similarity": support,
        "support_recall": round(float((pos >= support).mean()), 3),
        "support_pairs": {"positive": len(pos), "negative": len(neg), "pos": pct(pos), "neg": pct(neg)},
        "quote_similarity": quote,
        "quote_recall": round(float((np.asarray(q_pos) >= quote).mean()), 3),
        "quote_pairs": {
            "positive": len(q_pos),
            "negative": len(q_neg),
            "pos": pct(np.asarray(q_pos)),
            "neg": pct(np.asarray(q_neg)),
        },
        "min_evidence": evidence,
        "evidence_top1": {"answerable": pct(answerable), "off_topic": pct(off_topic)},
        "off_topic_gated": round(float((off_topic < evidence).mean()), 3),
        "answerable_gated": round(float((answerable < evidence).mean()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--kb", required=True, help="a base of the CMRC paragraphs built with the model")
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = calibrate(args.embedder, args.kb, args.questions, args.shared)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
