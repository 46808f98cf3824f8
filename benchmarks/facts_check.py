"""How well document facts are read from a filing's text, checked against its inline-XBRL tags.

Usage: .venv/bin/python -m benchmarks.facts_check FOLDER [--show]

For every inline-XBRL filing (``.htm``/``.html``) in FOLDER, the facts are read twice: from the
text alone (cover page, statements, period phrases: what a PDF print of the filing gives) and from
its ``dei:`` tags. For each fact the XBRL layer states, the text reading counts as agreeing, wrong
or missing. Company names compare on their short form (``NVIDIA CORPORATION`` = EDGAR's conformed
``NVIDIA CORP``).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from core.facts import short_company_name
from ingest.facts import read_facts
from ingest.filing_facts import xbrl_facts
from ingest.loaders import load_path

FACTS = ("company", "tickers", "form", "fiscal_year", "fiscal_period", "period_end")


def _same(key: str, text_value: object, xbrl_value: object) -> bool:
    if key == "company":
        return (
            short_company_name(str(text_value)).casefold() == short_company_name(str(xbrl_value)).casefold()
        )
    if key == "tickers":
        return bool(set(text_value or []) & set(xbrl_value or []))  # type: ignore[call-overload]
    return text_value == xbrl_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--show", action="store_true", help="print every disagreement")
    args = parser.parse_args()
    tally: dict[str, Counter[str]] = {key: Counter() for key in FACTS}
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".htm", ".html"))
    checked = 0
    for path in files:
        raw = path.read_text("utf-8", "replace")
        tags = xbrl_facts(raw)
        if not tags:
            continue
        checked += 1
        document = load_path(path, max_bytes=2**31)[0]
        read, _ = read_facts(document)  # no path: the XBRL layer is not consulted
        for key in FACTS:
            if key not in tags:
                continue
            outcome = (
                "missing" if key not in read else "agree" if _same(key, read[key], tags[key]) else "wrong"
            )
            tally[key][outcome] += 1
            if args.show and outcome != "agree":
                print(f"{path.name}: {key} text={read.get(key)!r} xbrl={tags[key]!r}")
    print(json.dumps({"filings": checked, **{k: dict(v) for k, v in tally.items()}}, indent=1))


if __name__ == "__main__":
    main()
