"""Recording and replaying model text, so an evaluation run's answers can be re-checked at other
thresholds without the model (``benchmarks/support_calibration.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

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
