"""Recording and replaying model text, so an evaluation run's answers can be re-checked at other
thresholds without the model (``benchmarks/support_calibration.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from core.types import Answer, Hit
from generation.backends.base import Generation, Generator

_TOKEN = re.compile(r"\S+\s*|\s+")


class RecordingGenerator:
    """Passes everything to ``inner`` and keeps the text of its last streamed answer."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name
        self.last = ""

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> Generation:
        return self.inner.complete(messages, **kwargs)

    def stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        self.last = ""
        deltas = self.inner.stream(messages, **kwargs)
        try:
            for delta in deltas:
                self.last += delta
                yield delta
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class ReplayGenerator:
    """Streams a recorded answer text word by word, whatever it is asked (no model)."""

    name = "replay"

    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> Generation:
        return Generation(self.text, 0, self.count_tokens(self.text), 0.0, 0.0, "stop")

    def stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        yield from _TOKEN.findall(self.text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def hits_from_trace(trace: dict[str, Any]) -> list[Hit]:
    """The passages an evaluation trace stored (``kb eval answers --out``), as hits."""
    return [
        Hit(
            chunk_id=f"trace-{n}",
            document_id=row["document_id"],
            kb="trace",
            text=row["text"],
            source=row["source"],
            title=row["title"],
            page=row["page"],
            heading_path=tuple(row["heading_path"]),
            char_start=0,
            char_end=len(row["text"]),
            dense_score=row["dense_score"],
            sparse_score=row["sparse_score"],
        )
        for n, row in enumerate(trace["hits"], 1)
    ]


def replay(answerer: Any, row: dict[str, Any], scenario: str) -> Answer:
    """The answer ``answerer`` gives today to a stored evaluation row: same passages, same model
    text, today's checks, quotes and abstention."""
    from generation.evaluation import FixedHits
    from retrieval.evaluation import EVAL_PRINCIPAL
    from retrieval.filters import SearchFilters

    trace = row["trace"]
    again = answerer.using(
        retriever=FixedHits(hits_from_trace(trace)), generator=ReplayGenerator(trace["raw"])
    )
    return again.ask(  # type: ignore[no-any-return]
        row.get("query") or row["question"],
        filters=SearchFilters(),
        principal=EVAL_PRINCIPAL,
        scenario=scenario,
    )
