"""Write benchmark figures: a JSON results file and a marked section of docs/benchmarks.md."""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = REPO / "benchmarks" / "results"


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


def write_results(name: str, data: dict[str, Any], markdown: str) -> None:
    """Save ``data`` as benchmarks/results/NAME.json and put ``markdown`` in NAME's doc section."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    section = f"{begin}\n{markdown.strip()}\n\n_Measured {data['measured_at']} on {data['machine']}._\n{end}"
    text = (
        DOC.read_text()
        if DOC.exists()
        else "# Benchmarks\n\nEvery figure here was produced by the command shown above it.\n"
    )
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
