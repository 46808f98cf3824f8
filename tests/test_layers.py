"""Imports point down, never up (DESIGN §1): each layer imports only the layers below it.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy import
upwards is still a dependency upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ingest", "retrieval", "generation", "app")
OUTSIDE = {"benchmarks", "tests", "scripts"}  # never imported by the product

BELOW_APP = {"core", "ingest", "retrieval", "generation"}
# layer -> the repository layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "ingest": {"core"},
    "retrieval": {"core", "ingest"},
    "generation": {"core", "ingest", "retrieval"},
    "app.context": BELOW_APP,
    "app.services": BELOW_APP | {"app.context"},
    "app.api": BELOW_APP | {"app.context", "app.services"},
    "app.cli": BELOW_APP | {"app.context", "app.services", "app.api"},
    "app.ui": set(),  # an HTTP client of the API only: see also tests/ui/test_layering.py
}
APP_LAYERS = ("context", "services", "api", "cli", "ui")


def layer_of(module: str) -> str:
    """The layer a dotted module name belongs to (``app.services.chat.access`` → ``app.services``)."""
    parts = module.split(".")
    if parts[0] == "app" and len(parts) > 1 and parts[1] in APP_LAYERS:
        return f"app.{parts[1]}"
    return parts[0]


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> list[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.append(".".join([*base, *([node.module] if node.module else [])]))
    return names


def product_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def test_every_product_module_has_a_layer() -> None:
    files = product_files()
    assert len(files) > 100
    unknown = sorted({layer_of(module_name(p)) for p in files} - set(ALLOWED) - {"app"})
    assert unknown == []
    # app/ holds only its layers (and the package marker): no flat modules beside them
    loose = [p.name for p in (REPO / "app").glob("*.py") if p.stem not in ("__init__", "context")]
    assert loose == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_layers_below(layer: str) -> None:
    repository = set(PACKAGES) | OUTSIDE
    offending = []
    for path in product_files():
        if layer_of(module_name(path)) != layer:
            continue
        for name in imported_modules(path):
            if name.split(".")[0] not in repository:
                continue  # the standard library or a third-party package
            target = layer_of(name)
            if target not in (layer, *ALLOWED[layer]) and name != "app":
                offending.append(f"{path.relative_to(REPO)}: {name}")
    assert offending == []


def test_the_reader_sees_lazy_guarded_and_relative_imports() -> None:
    """The rules are only as good as the import reader."""
    source = """
from typing import TYPE_CHECKING
from .access import ReadAccess
if TYPE_CHECKING:
    from app.api.services import Services
def later():
    import app.cli.main
    from ..jobs import JobService
"""
    names = imports_in(source, "app.services.chat.answering", is_package=False)
    assert names == [
        "typing",
        "app.services.chat.access",
        "app.api.services",
        "app.cli.main",
        "app.services.jobs",
    ]
    assert [layer_of(n) for n in names[2:4]] == ["app.api", "app.cli"]
    assert not {"app.api", "app.cli"} & ALLOWED["app.services"]
