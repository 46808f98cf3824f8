"""A deterministic fake generator for fast tests: it cites ``[1]`` and repeats a context sentence."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from generation.backends.base import Generation, check_request, last_user_content, truncate_at_stop

_FIRST_SOURCE = re.compile(r"\[1\](.*?)(?=\n\s*\[2\]|\Z)", re.DOTALL)
_FENCED = re.compile(r"<<<\s*(.*?)\s*>>>", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_TOKEN = re.compile(r"\S+\s*")


def _first_source_text(content: str) -> str:
    """Body of source ``[1]`` (fenced ``<<< >>>`` or plain), else the whole content."""
    match = _FIRST_SOURCE.search(content)
    if not match:
        return content
    fenced = _FENCED.search(match.group(1))
    return fenced.group(1) if fenced else match.group(1)


def _first_sentence(text: str) -> str:
    """The first sentence of ``text`` without its end punctuation."""
    text = " ".join(text.split())
    return _SENTENCE_END.split(text, maxsplit=1)[0].strip().rstrip(".!?") if text else ""


class EchoGenerator:
    """Answers ``<first sentence of source [1]> [1].``; no model involved.

    A "token" is a whitespace-delimited word with its trailing space, so counts are exact and stable.
    """

    name = "echo"

    def __init__(self, template: str = "{sentence} [1].") -> None:
        self.template = template

    def answer_for(self, messages: list[dict[str, str]]) -> str:
        """The full answer this fake gives to ``messages`` (before max_tokens and stop)."""
        sentence = _first_sentence(_first_source_text(last_user_content(messages))) or "(no context given)"
        return self.template.format(sentence=sentence)

    def _tokens(
        self, messages: list[dict[str, str]], max_tokens: int, stop: list[str] | None
    ) -> tuple[list[str], str]:
        text, stopped = truncate_at_stop(self.answer_for(messages), stop)
        tokens = _TOKEN.findall(text)
        if len(tokens) > max_tokens:
            return tokens[:max_tokens], "length"
        return tokens, "stop"

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Generation:
        """The echoed answer with word counts as token counts."""
        start = time.perf_counter()
        check_request(messages, max_tokens, temperature)
        tokens, finish = self._tokens(messages, max_tokens, stop)
        elapsed = (time.perf_counter() - start) * 1000
        prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        return Generation(
            text="".join(tokens),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens),
            first_token_ms=elapsed,
            total_ms=elapsed,
            finish_reason=finish,
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """The echoed answer one word at a time."""
        check_request(messages, max_tokens, temperature)
        tokens, _ = self._tokens(messages, max_tokens, stop)
        yield from tokens

    def count_tokens(self, text: str) -> int:
        """Whitespace-delimited words in ``text``."""
        return len(text.split())
