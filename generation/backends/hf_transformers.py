"""Generation with Hugging Face transformers from a local model directory (CUDA when torch sees it)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generation.backends.base import (
    BackendNotInstalledError,
    Generation,
    GenerationError,
    LazyResource,
    ModelNotAvailableError,
    StopScanner,
    check_request,
    truncate_at_stop,
)


def _streamer_classes() -> tuple[type, type]:
    """Streamers built on transformers' classes (imported late so the module stays light)."""
    from transformers import StoppingCriteria, TextIteratorStreamer

    class TokenTextStreamer(TextIteratorStreamer):
        """Yields text per token (not per word), holding back half-decoded UTF-8; counts tokens."""

        def __init__(self, tokenizer: Any, timeout: float | None) -> None:
            super().__init__(tokenizer, skip_prompt=True, timeout=timeout, skip_special_tokens=True)
            self.generated = 0
            self.first_token_at: float | None = None

        def put(self, value: Any) -> None:
            if value.dim() > 1:
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self.generated += int(value.numel())
            self.token_cache.extend(value.tolist())
            text = str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            if text.endswith("\ufffd"):
                return
            delta, self.print_len = text[self.print_len :], len(text)
            if delta:
                self.on_finalized_text(delta)

    class CancelOnEvent(StoppingCriteria):
        """Stops generation once the consumer of a stream has gone away."""

        def __init__(self, event: threading.Event) -> None:
            self.event = event

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)

    return TokenTextStreamer, CancelOnEvent


class TransformersGenerator:
    """A causal LM and its tokenizer from a local directory; the chat template comes from the tokenizer.

    Example: ``TransformersGenerator("/models/Qwen2.5-1.5B-Instruct", device="cuda")``
    """

    name = "transformers"

    def __init__(
        self, model_dir: str | Path, *, device: str | None = None, stream_timeout: float = 300
    ) -> None:
        self.model_dir = Path(model_dir).expanduser()
        self.device = device
        self.stream_timeout = stream_timeout
        self._loaded: LazyResource[tuple[Any, Any]] = LazyResource(self._load)

    def _load(self) -> tuple[Any, Any]:
        """Tokenizer and model, from disk only."""
        if not (self.model_dir / "config.json").is_file():
            raise ModelNotAvailableError(
                f"{self.model_dir}: not a transformers model directory (no config.json); point the "
                "transformers backend at a local folder saved with save_pretrained()"
            )
        from core.models import torch_device  # sets the hub-offline environment first

        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendNotInstalledError(
                f"the transformers backend needs torch and transformers: pip install transformers ({exc})"
            ) from exc
        device = torch_device(self.device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            dtype = torch.float32 if device == "cpu" else "auto"
            model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise ModelNotAvailableError(f"{self.model_dir}: cannot load the model: {exc}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise ModelNotAvailableError(
                f"{self.model_dir}: the tokenizer has no chat template; use an instruction-tuned model "
                "whose tokenizer_config.json or chat_template.jinja defines one"
            )
        model.to(torch.device(device)).eval()  # type: ignore[arg-type]  # transformers mistypes .to()
        self.device = device
        return tokenizer, model

    def warm_up(self) -> None:
        """Load the model now instead of on the first request."""
        self._loaded.get()

    def _prepare(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list[str] | None
    ) -> tuple[Any, dict[str, Any], int]:
        """Tokenizer, ``generate`` keyword arguments and prompt length for one request."""
        check_request(messages, max_tokens, temperature)
        tokenizer, model = self._loaded.get()
        try:
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        except Exception as exc:  # jinja errors: e.g. a template that refuses a system role
            raise GenerationError(
                f"{self.model_dir}: the chat template rejected the messages: {exc}"
            ) from exc
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": max_tokens,
            "pad_token_id": tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
        return tokenizer, kwargs, int(inputs["input_ids"].shape[1])

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Generation:
        """One answer from ``model.generate``, timed per token."""
        import torch

        start = time.perf_counter()
        tokenizer, kwargs, prompt_tokens = self._prepare(messages, max_tokens, temperature, stop)
        streamer_class, _ = _streamer_classes()
        clock = streamer_class(tokenizer, timeout=None)
        with torch.inference_mode():
            output = self._loaded.get()[1].generate(**kwargs, streamer=clock)
        end = time.perf_counter()
        new_ids = output[0, prompt_tokens:].tolist()
        text, stopped = truncate_at_stop(tokenizer.decode(new_ids, skip_special_tokens=True), stop)
        hit_eos = bool(new_ids) and new_ids[-1] in _eos_ids(tokenizer, self._loaded.get()[1])
        finish = "length" if len(new_ids) >= max_tokens and not (stopped or hit_eos) else "stop"
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new_ids),
            first_token_ms=((clock.first_token_at or end) - start) * 1000,
            total_ms=(end - start) * 1000,
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
        """Text deltas from ``generate`` running in a worker thread; stops it if the caller goes away."""
        import torch
        from transformers import StoppingCriteriaList

        tokenizer, kwargs, _ = self._prepare(messages, max_tokens, temperature, stop)
        streamer_class, cancel_class = _streamer_classes()
        streamer = streamer_class(tokenizer, timeout=self.stream_timeout)
        cancelled = threading.Event()
        failure: list[BaseException] = []
        model = self._loaded.get()[1]

        def run() -> None:
            try:
                with torch.inference_mode():
                    model.generate(
                        **kwargs,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([cancel_class(cancelled)]),
                    )
            except BaseException as exc:  # surfaced in the consumer's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="transformers-generate", daemon=True)
        worker.start()
        scanner = StopScanner(stop)
        try:
            for delta in streamer:
                out = scanner.feed(delta)
                if out:
                    yield out
                if scanner.stopped:
                    break
            tail = scanner.flush()
            if tail:
                yield tail
        except queue.Empty as exc:
            raise GenerationError(
                f"{self.model_dir}: no token within {self.stream_timeout}s; the device is overloaded or the "
                "model too large for it"
            ) from exc
        finally:
            cancelled.set()
            worker.join()
        if failure:
            raise GenerationError(f"{self.model_dir}: generation failed: {failure[0]}") from failure[0]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the model's tokenizer (no special tokens)."""
        tokenizer, _ = self._loaded.get()
        return len(tokenizer.encode(text, add_special_tokens=False))


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    """Token ids that end generation for this model."""
    ids = model.generation_config.eos_token_id
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found
