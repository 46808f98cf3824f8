"""Admin · evaluation: run answer or retrieval evaluation on an uploaded Q&A file (JSONL) against a
knowledge base, and show the figures as a chart and a per-question table."""

import json
from typing import Any

import pandas as pd
import streamlit as st

from app.ui.i18n import t
from app.ui.session import api_errors, client, require_role

RESULT = "eval_result"
RATE_NAMES = frozenset({"token_f1", "embedding_similarity", "mrr"})
RATE_PREFIXES = ("hit@", "recall@", "ndcg@")
FORMATS = {
    "answers": '{"question": "…", "answer": "the expected answer"}  (answer null = should abstain)',
    "retrieval": '{"query": "…", "relevant": ["handbook.pdf", "<document id>"]}',
}

require_role("admin")
api = client()
st.title(t("Evaluation"))

kbs: list[dict[str, Any]] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()
if not kbs:
    st.info(t("Create a knowledge base and upload documents first."))
    st.stop()

kb_name = st.selectbox(t("Knowledge base"), [kb["name"] for kb in kbs], key="eval_kb")
kind = st.radio(t("Evaluate"), list(FORMATS), key="eval_kind", horizontal=True, format_func=str.capitalize)
st.caption(f"One JSON object per line: `{FORMATS[kind]}`")
limit = st.number_input(t("Questions (at most)"), min_value=1, max_value=50, value=10, key="eval_limit")
qa_file = st.file_uploader(t("Q&A file (JSONL)"), type=["jsonl", "json", "txt"], key="eval_file")
if st.button(t("Run evaluation"), type="primary", disabled=qa_file is None, key="eval_run") and qa_file:
    with (
        st.spinner(t("Asking the questions… (a local model takes a few seconds per question)")),
        api_errors(t("Evaluation")),
    ):
        st.session_state[RESULT] = api.evaluate(kb_name, qa_file.name, qa_file.getvalue(), kind, int(limit))


def cell(value: Any) -> Any:
    """Tables hold scalars: lists and objects become compact JSON text."""
    return value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)


result = st.session_state.get(RESULT)
if result:
    summary: dict[str, Any] = result["summary"]
    st.subheader(f"Summary ({result['kind']})")
    # Only shares (0-1) share the chart's axis; counts, times and tokens/s are shown as numbers.
    rates = {
        k: v
        for k, v in summary.items()
        if isinstance(v, float) and (k.endswith("_rate") or k in RATE_NAMES or k.startswith(RATE_PREFIXES))
    }
    others = {k: v for k, v in summary.items() if k not in rates}
    if rates:
        st.caption(t("Rates and scores (0 = none, 1 = all)"))
        chart = pd.DataFrame({"value": list(rates.values())}, index=list(rates))
        st.bar_chart(chart, horizontal=True, y_label="", x_label=t("share (0-1)"))
    if others:
        columns = st.columns(min(len(others), 4))
        for i, (name, value) in enumerate(others.items()):
            columns[i % len(columns)].metric(name.replace("_", " "), "–" if value is None else value)
    st.subheader(t("Per question"))
    st.dataframe(
        [{k: cell(v) for k, v in row.items()} for row in result["per_question"]],
        hide_index=True,
        use_container_width=True,
    )
