"""The generator protocol every backend implements, its result type, its errors and shared helpers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import KBError
from core.lazy import LazyResource as LazyResource  # re-exported: the backends import it from here

Message = dict[str, str]
ROLES = frozenset({"system", "user", "assistant"})


class GenerationError(KBError):
    """A generator could not load or answer; the message says what to install, start or check."""


class BackendNotInstalledError(GenerationError):
    """The Python library a backend needs is not installed."""


class ModelNotAvailableError(GenerationError):
    """The model files are missing, incomplete or not loadable."""


class ModelIntegrityError(ModelNotAvailableError):
    """An assembled model file does not have the expected sha256."""


class BackendConnectionError(GenerationError):
    """A remote generation server could not be reached."""


class BackendResponseError(GenerationError):
    """A remote generation server answered with an error or something unreadable."""


@dataclass(frozen=True)
class Generation:
    """One finished completion with its token usage and timings (milliseconds since the call)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float
    total_ms: float
    finish_reason: str


@runtime_checkable
class Generator(Protocol):
    """Chat completion over OpenAI-style messages; ``stream`` yields text deltas.

    Example: ``gen.complete([{"role": "user", "content": "Hi"}], max_tokens=64).text``
    """

    name: str

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Generation:
        """Generate a whole answer."""
        ...

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Generate an answer as text deltas."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens the model's tokenizer makes of ``text``."""
        ...


def check_request(messages: Sequence[Message], max_tokens: int, temperature: float) -> None:
    """Refuse malformed messages or parameters before any model work starts."""
    if not messages:
        raise GenerationError("no messages given: pass at least one {'role': 'user', 'content': ...}")
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ROLES:
            raise GenerationError(f"message {i} has role {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise GenerationError(f"message {i} has no string 'content'")
    if max_tokens < 1:
        raise GenerationError(f"max_tokens must be >= 1, got {max_tokens}")
    if temperature < 0:
        raise GenerationError(f"temperature must be >= 0, got {temperature}")


def last_user_content(messages: Sequence[Message]) -> str:
    """Content of the last user message ('' when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""


class StopScanner:
    """Cuts streamed text at the first stop string, holding back text that may start one."""

    def __init__(self, stop: Sequence[str] | None) -> None:
        self._stop = [s for s in (stop or []) if s]
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._buffer = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """Add a delta; return the text that is now safe to emit (sets ``stopped`` on a hit)."""
        if self.stopped:
            return ""
        if not self._stop:
            return delta
        self._buffer += delta
        hits = [i for i in (self._buffer.find(s) for s in self._stop) if i >= 0]
        if hits:
            self.stopped = True
            out, self._buffer = self._buffer[: min(hits)], ""
            return out
        cut = max(len(self._buffer) - self._hold, 0)
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def flush(self) -> str:
        """Text still held back once the stream has ended."""
        out, self._buffer = ("" if self.stopped else self._buffer), ""
        return out


def truncate_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in (stop or []) if s) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)
