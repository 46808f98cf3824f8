"""Text generators behind one protocol: llama.cpp (CPU default), transformers, OpenAI-compatible HTTP, echo.

Importing this package is cheap: torch, transformers and llama_cpp load on a generator's first use.
"""

from generation.backends.base import (
    BackendConnectionError,
    BackendNotInstalledError,
    BackendResponseError,
    Generation,
    GenerationError,
    Generator,
    ModelIntegrityError,
    ModelNotAvailableError,
)
from generation.backends.echo import EchoGenerator
from generation.backends.factory import KINDS, build_generator
from generation.backends.hf_transformers import TransformersGenerator
from generation.backends.llamacpp import LlamaCppGenerator
from generation.backends.openai_http import OpenAICompatibleGenerator

__all__ = [
    "KINDS",
    "BackendConnectionError",
    "BackendNotInstalledError",
    "BackendResponseError",
    "EchoGenerator",
    "Generation",
    "GenerationError",
    "Generator",
    "LlamaCppGenerator",
    "ModelIntegrityError",
    "ModelNotAvailableError",
    "OpenAICompatibleGenerator",
    "TransformersGenerator",
    "build_generator",
]
