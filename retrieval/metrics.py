"""Ranking metrics over de-duplicated key rankings, and BEIR-style qrels/queries readers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path


def read_queries(path: Path) -> dict[str, str]:
    """``{"_id", "text"}`` per line (BEIR queries.jsonl) → {query id: text}."""
    queries: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                queries[str(record["_id"])] = record["text"]
    return queries


def read_query_filters(path: Path, key: str) -> dict[str, dict[str, str]]:
    """{query id: {key: value}} from each query's ``metadata[key]`` (e.g. the product it is about)."""
    out: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                value = (record.get("metadata") or {}).get(key)
                if value is not None:
                    out[str(record["_id"])] = {key: value}
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (``query-id  corpus-id  score``, header optional) → {qid: {corpus id: grade}}."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels


def dedupe_keys(keys: list[list[str]]) -> list[str]:
    """Flatten per-hit key lists into a ranking of unique keys (first occurrence wins)."""
    seen: dict[str, None] = {}
    for hit_keys in keys:
        for key in hit_keys:
            seen.setdefault(key, None)
    return list(seen)


def ndcg_at(ranking: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** relevant.get(key, 0) - 1) / math.log2(i + 2) for i, key in enumerate(ranking[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    positives = {key for key, g in relevant.items() if g > 0}
    return len(positives & set(ranking[:k])) / len(positives) if positives else 0.0


def mrr_at(ranking: list[str], relevant: dict[str, int], k: int = 10) -> float:
    for i, key in enumerate(ranking[:k]):
        if relevant.get(key, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def summarize(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@50 and MRR@10 over queries that have positive judgments."""
    judged = [q for q in rankings if any(g > 0 for g in qrels.get(q, {}).values())]
    if not judged:
        return {"ndcg@10": 0.0, "recall@10": 0.0, "recall@50": 0.0, "mrr@10": 0.0, "queries": 0}
    n = len(judged)
    return {
        "ndcg@10": sum(ndcg_at(rankings[q], qrels[q]) for q in judged) / n,
        "recall@10": sum(recall_at(rankings[q], qrels[q], 10) for q in judged) / n,
        "recall@50": sum(recall_at(rankings[q], qrels[q], 50) for q in judged) / n,
        "mrr@10": sum(mrr_at(rankings[q], qrels[q]) for q in judged) / n,
        "queries": n,
    }
