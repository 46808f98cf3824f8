"""Fusion methods on every (embedder, dev set): is hybrid ever below the better of BM25 and dense?

Usage: .venv/bin/python -m benchmarks.fusion_eval [--cache /tmp/kb-candidates] [--no-write]

Reads the candidate lists ``benchmarks.embedder_eval`` stored (each query's top-100 dense and BM25
hits from the real pipeline) and runs the real ``HybridRetriever`` (fusion, near-duplicate removal)
over them with each fusion setting: the old fixed ``convex`` 0.6/0.4, ``rrf``, and ``adaptive`` (the
default) with its default prior, plus the prior that ``kb eval retrieval`` would calibrate on the
set's own questions. Target: hybrid nDCG@10 ≥ max(bm25, dense) − 0.005 everywhere. Hybrid keeps its
top 30 hits (enough for 10 distinct pages or documents; near-duplicate removal over all 100 would
cost minutes per setting).
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.embedder_eval import EMBEDDERS, CachedRetriever, hybrid_rankings, score
from benchmarks.multilingual_sets import multilingual_sets
from benchmarks.report import RESULTS, write_results
from core.settings import Settings
from retrieval.evaluation import CALIBRATION_GRID, hit_keys
from retrieval.fusion import adaptive_weights
from retrieval.hybrid import HybridConfig, HybridRetriever
from retrieval.metrics import dedupe_keys, ndcg_at, read_qrels

TOLERANCE = 0.005
RESULTS_FILE = RESULTS / "fusion_eval.json"


def configs(default: HybridConfig) -> dict[str, HybridConfig]:
    """The fusion settings compared (the default's prior and the old fixed weights)."""
    return {
        "convex 0.6/0.4 (old default)": HybridConfig(fusion="convex", dense_weight=0.6, sparse_weight=0.4),
        "rrf": HybridConfig(fusion="rrf", dense_weight=1.0, sparse_weight=1.0),
        "adaptive (default)": default,
    }


def evaluate_cache(path: Path, qrels: dict[str, dict[str, int]], default: HybridConfig) -> dict[str, Any]:
    """nDCG@10 of bm25, dense and each fusion setting on one cached (embedder, set)."""
    data = pickle.loads(path.read_bytes())
    lists, unit, queries = data["lists"], data["unit"], data["queries"]
    row: dict[str, Any] = {
        "bm25": score({q: s for q, (_, s) in lists.items()}, qrels, unit)["ndcg@10"],
        "dense": score({q: d for q, (d, _) in lists.items()}, qrels, unit)["ndcg@10"],
    }
    for name, cfg in configs(default).items():
        hybrid = HybridRetriever(CachedRetriever({}), CachedRetriever({}), config=cfg)
        row[name] = score(hybrid_rankings(lists, queries, hybrid, k=30), qrels, unit)["ndcg@10"]
    prior = (default.dense_weight, default.sparse_weight)
    used = [adaptive_weights(d, s, prior)[0] for d, s in lists.values()]
    row["dense_weight_mean"] = float(np.mean(used)) if used else 0.0
    per_query: dict[float, dict[str, float]] = {}
    for g in CALIBRATION_GRID:
        cfg = HybridConfig(fusion=default.fusion, dense_weight=g, sparse_weight=round(1 - g, 1))
        hybrid = HybridRetriever(CachedRetriever({}), CachedRetriever({}), config=cfg)
        ranked = hybrid_rankings(lists, queries, hybrid, k=30)
        per_query[g] = {
            q: ndcg_at(dedupe_keys([hit_keys(h, unit) for h in hits]), qrels[q]) for q, hits in ranked.items()
        }
    row["calibrated_prior"], row["calibrated"] = _best(per_query, list(lists))
    row["calibrated_cv"] = _two_fold(per_query, sorted(lists))
    return row


def _best(per_query: dict[float, dict[str, float]], qids: list[str]) -> tuple[float, float]:
    """The prior with the best mean nDCG@10 over ``qids`` (ties: the more balanced one), and that mean."""
    means = {g: float(np.mean([scores[q] for q in qids])) for g, scores in per_query.items()}
    best = max(means, key=lambda g: (means[g], -abs(g - 0.5)))
    return best, means[best]


def _two_fold(per_query: dict[float, dict[str, float]], qids: list[str]) -> float:
    """Calibrate on every other question, measure on the rest, and the other way round: what a base's
    calibration gives on questions it was not tuned on."""
    folds = [qids[0::2], qids[1::2]]
    held_out: list[float] = []
    for tune, test in (folds, folds[::-1]):
        prior, _ = _best(per_query, tune)
        held_out += [per_query[prior][q] for q in test]
    return float(np.mean(held_out))


def markdown(rows: dict[str, dict[str, dict[str, Any]]], default: HybridConfig) -> str:
    names = list(configs(default))
    lines = [
        "## Fusion: hybrid against the better single retriever (`benchmarks/fusion_eval.py`)\n",
        "Command: `.venv/bin/python -m benchmarks.fusion_eval` (after `benchmarks.embedder_eval`, whose "
        "candidate lists it fuses with the real `HybridRetriever`). nDCG@10; ✗ marks hybrid more than "
        f"{TOLERANCE} below max(bm25, dense). *calibrated*: adaptive with the dense prior that "
        "`kb eval retrieval` picks on the set's own questions (grid 0.1…0.9; optimistic, same questions); "
        "*2-fold held out*: the prior picked on every other question, measured on the rest (both ways).\n",
        "| set | embedder | bm25 | dense | "
        + " | ".join(names)
        + " | adaptive mean dense weight | calibrated prior → nDCG@10 | calibrated, 2-fold held out |",
        "|---|---|---|---|" + "---|" * len(names) + "---|---|---|",
    ]
    for set_name, by_embedder in rows.items():
        for embedder, row in by_embedder.items():
            floor = max(row["bm25"], row["dense"]) - TOLERANCE
            cells = [_mark(row[n], floor) for n in names]
            lines.append(
                f"| {set_name} | {embedder} | {row['bm25']:.3f} | {row['dense']:.3f} | "
                + " | ".join(cells)
                + f" | {row['dense_weight_mean']:.2f} | {row['calibrated_prior']:g} → {row['calibrated']:.3f}"
                + f" | {_mark(row['calibrated_cv'], floor)} |"
            )
    return "\n".join(lines)


def _mark(value: float, floor: float) -> str:
    return f"{value:.3f}{'' if value >= floor else ' ✗'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kb-candidates")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    default = HybridConfig(
        fusion=settings.fusion, dense_weight=settings.dense_weight, sparse_weight=settings.sparse_weight
    )
    sets = multilingual_sets()
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for set_name, evalset in sets.items():
        qrels = read_qrels(evalset.qrels)
        for embedder in EMBEDDERS:
            path = args.cache / embedder / f"{set_name}.pkl"
            if path.exists():
                row = evaluate_cache(path, qrels, default)
                rows.setdefault(set_name, {})[embedder] = row
                print(
                    f"[{set_name}] {embedder}: " + json.dumps({k: round(v, 3) for k, v in row.items()}),
                    flush=True,
                )
    if not args.no_write:
        # merge with rows other runs (other caches) stored, read just before writing
        stored = json.loads(RESULTS_FILE.read_text())["rows"] if RESULTS_FILE.exists() else {}
        for set_name, by_embedder in rows.items():
            stored.setdefault(set_name, {}).update(by_embedder)
        ordered = {name: stored[name] for name in sets if name in stored}
        write_results("fusion_eval", {"rows": ordered, "tolerance": TOLERANCE}, markdown(ordered, default))


if __name__ == "__main__":
    main()
