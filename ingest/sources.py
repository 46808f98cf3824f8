"""Find the files an ingest run covers and name each one's citation source."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest. ``source`` is its stable name in the knowledge base (relative path);
    ``key`` its blob-store key when it was uploaded (``path`` is then a local copy)."""

    path: Path
    source: str
    size: int
    key: str | None = None

    def location(self) -> dict[str, str]:
        """Where the original stays readable, for the document row: its blob key, else its path."""
        return {"file_key": self.key} if self.key else {"file_path": str(self.path)}

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def expand_paths(paths: list[Path]) -> list[SourceFile]:
    """Files under the given paths, in a stable order. A file's source is its path relative to the
    folder given on the command line (or its bare name when the file itself was given), so the
    same folder ingested from anywhere yields the same sources.
    """
    seen: dict[str, SourceFile] = {}
    for raw in paths:
        path = raw.expanduser()
        if path.is_dir():
            root = path.resolve()
            for file in sorted(root.rglob("*")):
                if file.is_file() and not file.is_symlink() and _visible(file, root):
                    source = file.relative_to(root).as_posix()
                    seen.setdefault(source, SourceFile(file, source, file.stat().st_size))
        elif path.is_file():
            seen.setdefault(path.name, SourceFile(path.resolve(), path.name, path.stat().st_size))
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return list(seen.values())
