"""The UI's words in English and Simplified Chinese: a message catalog per language and ``t()``.

Every string a user reads goes through ``t(message, **values)``; ``message`` is the English text
(the catalog key, as gettext's msgid) and ``values`` fill its ``{placeholders}``. The catalogs are
JSON files in ``locales/`` (``en.json``, ``zh.json``) with the same keys; a test checks that every
``t()`` (and ``N_()``, which marks a label defined in a table) call in the UI has an entry in both
and that the placeholders agree. The language is the
user's choice (the switch in the sidebar, kept for the browser session), else the browser's
(``Accept-Language``), else ``KB_UI_LANGUAGE``, else English.
Example: ``t("Signed in as {name}", name="ana")`` → "已登录：ana" when the language is Chinese.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui.config import ui_language

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "en"
LANGUAGE_KEY = "ui_language"


@cache
def catalog(language: str) -> dict[str, str]:
    """The messages of ``language`` (English text → its translation)."""
    messages: dict[str, str] = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    return messages


def browser_language(accept_language: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header the UI speaks ("zh-CN,zh;q=0.9" → "zh")."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return None


def _default_language() -> str:
    try:
        header = st.context.headers.get("Accept-Language")
    except (AttributeError, RuntimeError):  # no browser behind this run (a script test)
        header = None
    configured = ui_language()
    return browser_language(header) or (configured if configured in LANGUAGES else DEFAULT)


def language() -> str:
    """The language this browser session shows."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = _default_language()
    return str(st.session_state[LANGUAGE_KEY])


def N_(message: str) -> str:  # noqa: N802 - gettext's name for it
    """Marks ``message`` for the catalog where it is defined (e.g. in a table of labels) and
    returns it unchanged; ``t()`` translates it where it is shown."""
    return message


def t(message: str, **values: Any) -> str:
    """``message`` in the session's language, with ``values`` filled in (English if not translated)."""
    text = catalog(language()).get(message, message)
    return text.format(**values) if values else text


def language_switch() -> None:
    """The 中文 / English switch (in the sidebar of every page)."""
    current = language()
    chosen = st.radio(
        "Language / 语言",
        list(LANGUAGES),
        index=list(LANGUAGES).index(current),
        format_func=LANGUAGES.__getitem__,
        horizontal=True,
        key="language_switch",
    )
    if chosen != current:
        st.session_state[LANGUAGE_KEY] = chosen
        st.rerun()
