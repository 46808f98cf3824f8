"""Builds a generator by backend name from plain arguments (the API and CLI map settings onto these)."""

from __future__ import annotations

from pathlib import Path

from generation.backends.base import GenerationError, Generator
from generation.backends.echo import EchoGenerator
from generation.backends.hf_transformers import TransformersGenerator
from generation.backends.llamacpp import LlamaCppGenerator
from generation.backends.openai_http import OpenAICompatibleGenerator

KINDS = ("llamacpp", "transformers", "openai", "echo")


def build_generator(
    kind: str,
    *,
    model_path: str | Path | None = None,
    profile: str = "default",
    models_dir: str | Path | None = None,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    chat_format: str | None = None,
    device: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 60,
) -> Generator:
    """A generator of ``kind`` (llamacpp | transformers | openai | echo); nothing loads until first use.

    ``llamacpp`` without ``model_path`` joins the bundled ``profile`` into ``models_dir`` (default,
    fast or tiny). ``transformers`` needs ``model_path`` (a local model directory); ``openai`` needs
    ``base_url`` and ``model``.
    Example: ``build_generator("openai", base_url="http://vllm:8000", model="qwen")``
    """
    if kind == "echo":
        return EchoGenerator()
    if kind == "llamacpp":
        if model_path is None:
            if models_dir is None:
                raise GenerationError(
                    "llamacpp: give model_path (a .gguf file) or models_dir for a bundled profile"
                )
            from generation.bundled import ensure_model

            model_path = ensure_model(profile, Path(models_dir))
        return LlamaCppGenerator(model_path, n_ctx=n_ctx, n_threads=n_threads, chat_format=chat_format)
    if kind == "transformers":
        if model_path is None:
            raise GenerationError(
                "transformers: give model_path, a local directory saved with save_pretrained()"
            )
        return TransformersGenerator(model_path, device=device)
    if kind == "openai":
        if not base_url or not model:
            raise GenerationError(
                "openai: give base_url (e.g. http://localhost:8000) and the served model name"
            )
        return OpenAICompatibleGenerator(base_url, model, api_key=api_key, timeout=timeout)
    raise GenerationError(f"unknown generator backend {kind!r}; choose one of {', '.join(KINDS)}")
