"""The UI's message catalogs: every message the UI shows (each ``t()`` and ``N_()`` in app/ui) is in
the English and the Chinese catalog, with the same placeholders, and no catalog keeps stale entries."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "app" / "ui"
LANGUAGES = ("en", "zh")


def ui_messages() -> set[str]:
    """The literal first argument of every ``t(...)`` and ``N_(...)`` call under app/ui."""
    found: set[str] = set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("t", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def catalog(language: str) -> dict[str, str]:
    return json.loads((UI / "locales" / f"{language}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_ui_marks_its_messages() -> None:
    messages = ui_messages()
    assert len(messages) > 150  # the pages, the answer rendering, labels, errors
    assert {"Sign in", "Knowledge base", "Not covered by the knowledge base"} <= messages


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_is_missing_or_stale(language: str) -> None:
    messages, entries = ui_messages(), catalog(language)
    assert sorted(messages - set(entries)) == [], f"missing in {language}.json"
    assert sorted(set(entries) - messages) == [], f"stale entries in {language}.json"
    assert all(text.strip() for text in entries.values()), f"empty translation in {language}.json"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = {m: text for m, text in catalog(language).items() if placeholders(m) != placeholders(text)}
    assert wrong == {}


def test_chinese_is_chinese() -> None:
    """Every Chinese entry with words in it is written in Chinese (not left in English by mistake),
    except names that stay as they are (model and backend names, OCR)."""
    zh = catalog("zh")
    untranslated = [
        m for m, text in zh.items() if text == m and any(c.isalpha() for c in m) and not m.isupper()
    ]
    assert untranslated == []


def test_browser_language_picks_what_the_ui_speaks() -> None:
    from app.ui.i18n import browser_language

    assert browser_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert browser_language("fr-FR,en-US;q=0.8") == "en"
    assert browser_language("de") is None and browser_language(None) is None
