"""`kb ask --json` and `kb eval answers --json` end to end: real embedder and the bundled tiny LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def kb(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_RERANKER="none", KB_LLM_PROFILE="tiny", KB_ANSWER_MAX_TOKENS="48")
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, check=True
    )


def test_ask_and_eval_answers_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    doc = tmp_path / "returns.md"
    doc.write_text("# Returns\n\nUnopened items can be returned within 30 days for a full refund.\n")
    kb(data, "bases", "create", "shop", "--scenario", "retail")
    kb(data, "ingest", str(doc), "--kb", "shop")

    out = json.loads(
        kb(data, "ask", "How long can unopened items be returned?", "--kb", "shop", "--json").stdout
    )
    assert set(out) >= {
        "answer",
        "abstained",
        "kind",
        "notice",
        "citations",
        "unsupported_sentences",
        "timings",
    }
    assert set(out["timings"]) == {
        "retrieval_ms",
        "first_token_ms",
        "first_shown_ms",
        "total_ms",
        "tokens_per_s",
    }
    if out["abstained"]:
        assert out["closest_sources"][0]["source"] == "returns.md"
    else:
        cite = out["citations"][0]
        assert {"n", "document_id", "source", "title", "page", "section", "snippet"} <= set(cite)
        assert cite["source"] == "returns.md"

    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"question": "How long can unopened items be returned?", "answer": "within 30 days"})
        + "\n"
        + json.dumps({"question": "What is the CEO's salary?", "answer": None})
        + "\n"
    )
    report = json.loads(kb(data, "eval", "answers", "--kb", "shop", "--qa", str(qa), "--json").stdout)
    assert report["questions"] == 2 and report["answerable"] == 1 and report["unanswerable"] == 1
    assert report["phantom_citations_shown"] == 0
    assert len(report["per_question"]) == 2
    assert {"first_shown_ms_p50", "prompt_tokens_p50", "answers_quoted"} <= set(report)
    trace = report["per_question"][0]["trace"]  # what the calibration replays
    assert trace["hits"][0]["source"] == "returns.md" and isinstance(trace["raw"], str)


def flat(text: str) -> str:
    """Text with its whitespace collapsed: the console wraps long lines."""
    return " ".join(text.split())


def test_ask_streams_only_checked_text_and_drafts_keep_the_notice_apart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    doc = tmp_path / "returns.md"
    doc.write_text("# Returns\n\nUnopened items can be returned within 30 days for a full refund.\n")
    kb(data, "bases", "create", "shop", "--scenario", "customer_service")
    kb(data, "ingest", str(doc), "--kb", "shop")
    shown = kb(data, "ask", "Can I return unopened items?", "--kb", "shop")
    final = json.loads(kb(data, "ask", "Can I return unopened items?", "--kb", "shop", "--json").stdout)
    # what was printed is the checked answer, nothing else (the console wraps long lines)
    assert flat(final["answer"]) in flat(shown.stdout)
    draft = kb(data, "ask", "My parcel never arrived, refund me now!", "--kb", "shop", "--draft")
    as_json = json.loads(
        kb(data, "ask", "My parcel never arrived, refund me now!", "--kb", "shop", "--draft", "--json").stdout
    )
    assert flat(as_json["answer"]) in flat(draft.stdout)
    if as_json["notice"]:  # for the agent: on stderr, never in the draft
        notice = flat(as_json["notice"])
        assert notice not in flat(draft.stdout) and notice in flat(draft.stderr)
