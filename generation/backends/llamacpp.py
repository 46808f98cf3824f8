"""Generation with llama.cpp (``llama-cpp-python``) from a GGUF file: the CPU default."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from generation.backends.base import (
    BackendNotInstalledError,
    Generation,
    GenerationError,
    LazyResource,
    ModelNotAvailableError,
    check_request,
)

INSTALL_HINT = (
    "pip install llama-cpp-python==0.3.36 "
    '(builds from source; CMAKE_ARGS="-DGGML_NATIVE=OFF" for a build that runs on any x86-64 CPU)'
)


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and container cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _metered_llama_class() -> type:
    """A ``Llama`` that calls ``on_sample`` after each sampled token (for first-token timing)."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise BackendNotInstalledError(
            f"the llama.cpp backend needs llama-cpp-python: {INSTALL_HINT}"
        ) from exc

    class MeteredLlama(Llama):  # type: ignore[misc, valid-type]
        """``Llama`` with a per-token hook; generation itself is unchanged."""

        on_sample: Callable[[], None] | None = None

        def sample(self, *args: Any, **kwargs: Any) -> Any:
            token = super().sample(*args, **kwargs)
            if self.on_sample is not None:
                self.on_sample()
            return token

    return MeteredLlama


class LlamaCppGenerator:
    """A GGUF model run by llama.cpp, prompted through the chat template stored in the GGUF.

    One request runs at a time per instance (a llama.cpp context is not re-entrant); others wait.
    Example: ``LlamaCppGenerator(ensure_model("default", models_dir), n_threads=2)``
    """

    name = "llamacpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.n_ctx = n_ctx
        # llama-cpp-python's own default is half the cores for decoding, which wastes a small machine.
        self.n_threads = n_threads or available_cpus()
        self.chat_format = chat_format
        self.load_ms: float | None = None
        self._request_lock = threading.Lock()
        self._llm: LazyResource[Any] = LazyResource(self._load)

    def _load(self) -> Any:
        """The llama.cpp model and context."""
        if not self.model_path.is_file():
            raise ModelNotAvailableError(
                f"{self.model_path}: GGUF model file not found; run ensure_model() for a bundled profile "
                "or point the llama.cpp backend at a .gguf file on disk"
            )
        llama_class = _metered_llama_class()
        start = time.perf_counter()
        try:
            llm = llama_class(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                chat_format=self.chat_format,
                # Flash attention reads the prompt ~7 % faster on 2 CPU cores (and more on a GPU).
                flash_attn=True,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelNotAvailableError(
                f"{self.model_path}: llama.cpp cannot load this file ({exc}); check that it is a complete "
                "GGUF model and that llama-cpp-python is recent enough for its architecture"
            ) from exc
        self.load_ms = (time.perf_counter() - start) * 1000
        return llm

    def sibling(self, *, n_ctx: int | None = None) -> LlamaCppGenerator:
        """Another context on the same model file (memory-mapped, so the weights are shared): for side
        tasks that must not evict this context's cached prompt prefix."""
        return LlamaCppGenerator(
            self.model_path,
            n_ctx=n_ctx or self.n_ctx,
            n_threads=self.n_threads,
            chat_format=self.chat_format,
        )

    def warm_up(self) -> None:
        """Load the model now instead of on the first request."""
        self._llm.get()

    def _request(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list[str] | None
    ) -> dict[str, Any]:
        """Keyword arguments for ``create_chat_completion``."""
        check_request(messages, max_tokens, temperature)
        return {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(stop or []),
            "seed": 0 if temperature == 0 else None,
        }

    def _context_error(self, exc: ValueError) -> GenerationError:
        return GenerationError(
            f"{self.model_path.name}: {exc}; send fewer or shorter passages, or raise n_ctx "
            f"(now {self.n_ctx}) if the model and memory allow"
        )

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Generation:
        """One answer with llama.cpp's exact token usage."""
        start = time.perf_counter()
        kwargs = self._request(messages, max_tokens, temperature, stop)
        llm = self._llm.get()
        first: list[float] = []
        with self._request_lock:
            llm.on_sample = lambda: first.append(time.perf_counter()) if not first else None
            try:
                result = llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                raise self._context_error(exc) from exc
            finally:
                llm.on_sample = None
        end = time.perf_counter()
        choice, usage = result["choices"][0], result["usage"]
        return Generation(
            text=choice["message"]["content"] or "",
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            first_token_ms=((first[0] if first else end) - start) * 1000,
            total_ms=(end - start) * 1000,
            finish_reason=choice.get("finish_reason") or "stop",
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Text deltas from ``create_chat_completion(stream=True)``."""
        kwargs = self._request(messages, max_tokens, temperature, stop)
        llm = self._llm.get()
        with self._request_lock:
            try:
                for chunk in llm.create_chat_completion(**kwargs, stream=True):
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            except ValueError as exc:
                raise self._context_error(exc) from exc

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the GGUF's tokenizer (no BOS)."""
        if not text:
            return 0
        return len(self._llm.get().tokenize(text.encode("utf-8"), add_bos=False, special=False))
