"""Rendering shared by the pages: checked answers with citations, and ingestion-job progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import streamlit as st

from app.ui.client import ApiClient, ApiError
from app.ui.i18n import N_, t
from app.ui.session import api_errors
from app.ui.web_session import FILES_PATH

NOT_COVERED = N_("Not covered by the knowledge base")
JOB_DONE = frozenset({"succeeded", "partial", "failed", "dead", "cancelled"})
UNREADABLE = "unreadable"  # the job could not be read (deleted, no longer allowed): stop polling it
POLL_SECONDS = 1.0
# Answers worked out in Python from table cells, and what the user is told about them.
_FROM_TABLES = {
    "computed": N_(
        "Computed: the model chose the table cells and the operation; the result was calculated "
        "exactly from the cited figures below."
    ),
    "table": N_(
        "Read from the table: the figures of the rows and period the question names, as the cited "
        "table states them."
    ),
}
STAGE_LABELS = {
    "condensing": N_("Understanding your follow-up"),
    "searching": N_("Searching the knowledge base"),
    "reading": N_("Reading the sources"),
    "writing": N_("Writing the answer and checking each sentence against the sources"),
    "checking": N_("Looking for a passage that answers it"),
}


def escape_md(text: str) -> str:
    """Text shown as-is in Markdown: ``$`` would start LaTeX (finance answers are full of it)."""
    return text.replace("\\", "\\\\").replace("$", "\\$")


def location(item: dict[str, Any]) -> str:
    """``p. 3`` / ``§ Benefits > Dental`` / ``""``: where in its document a citation points."""
    parts = []
    if item.get("page") and item.get("page_end"):
        parts.append(t("pp. {page}–{page_end}", page=item["page"], page_end=item["page_end"]))
    elif item.get("page"):
        parts.append(t("p. {page}", page=item["page"]))
    if item.get("section"):
        parts.append(f"§ {item['section']}")
    if item.get("ocr_confidence") is not None:
        parts.append(
            t("OCR text, {confidence} confidence", confidence=f"{float(item['ocr_confidence']):.0%}")
        )
    return " · ".join(parts)


def source_url(item: dict[str, Any]) -> str:
    """Where the original opens (the UI server fetches it from the API as the signed-in user): a PDF
    at its page, other text at the quoted passage (a text fragment)."""
    url = f"{FILES_PATH}/{quote(str(item['document_id']))}"
    if item.get("page"):
        return f"{url}#page={item['page']}"
    words = " ".join(str(item.get("snippet") or "").split()[:8]).strip(" -•*")
    return f"{url}#:~:text={quote(words)}" if words else url


def citation_label(citation: dict[str, Any]) -> str:
    where = location(citation)
    return escape_md(
        f"[{citation['n']}] {citation.get('title') or citation['source']}" + (f" — {where}" if where else "")
    )


def _open_link(item: dict[str, Any]) -> None:
    what = t("page {page}", page=item["page"]) if item.get("page") else t("the passage")
    st.markdown(f"[{t('Open the document at {what}', what=what)} ↗]({source_url(item)})")


def render_citations(citations: list[dict[str, Any]], heading: str = N_("Sources")) -> None:
    """Numbered citations, each an expander with the quoted passage and a link that opens the
    original at its page (or passage)."""
    if not citations:
        return
    st.caption(t(heading))
    for citation in citations:
        with st.expander(citation_label(citation)):
            st.caption(escape_md(citation["source"]))
            snippet = " ".join(str(citation.get("snippet") or "").split())
            st.markdown("> " + escape_md(snippet))
            _open_link(citation)


def render_closest_sources(sources: list[dict[str, Any]]) -> None:
    """The nearest passages (one per document and page), each with its snippet and a link."""
    if not sources:
        st.caption(t("No passage in the knowledge base came close."))
        return
    st.caption(t("Closest sources found:"))
    for source in sources:
        where = location(source)
        title = source.get("title") or source["source"]
        with st.container(border=True):
            st.markdown(f"**{escape_md(title)}**" + (f" · {escape_md(where)}" if where else ""))
            snippet = " ".join(str(source.get("snippet") or "").split())
            if snippet:
                st.markdown("> " + escape_md(snippet))
            if source.get("document_id"):
                _open_link(source)


def render_left_out(sentences: list[str]) -> None:
    """Sentences the model wrote that the sources do not support: not part of the answer."""
    if not sentences:
        return
    count = len(sentences)
    if count == 1:
        label = t("1 sentence left out: not supported by the sources")
    else:
        label = t("{count} sentences left out: not supported by the sources", count=count)
    with st.expander(label, icon=":material/visibility_off:"):
        for sentence in sentences:
            st.markdown(f"- ~~{escape_md(sentence)}~~")


def render_answer(answer: dict[str, Any]) -> None:
    """A checked answer: the abstention state, a quote, or the checked sentences; then citations."""
    if answer.get("abstained"):
        reason = answer.get("answer") or t("The documents you can read do not answer this.")
        st.warning(f"**{t(NOT_COVERED)}.** {escape_md(reason)}", icon="🔍")
        render_closest_sources(answer.get("closest_sources") or [])
    elif answer.get("kind") == "quoted":
        st.info(
            t(
                "Quoted from the source, word for word: the model's own answer could not be verified "
                "against the documents, but this passage answers the question."
            ),
            icon=":material/format_quote:",
        )
        st.markdown(escape_md(answer.get("answer", "")))
    elif answer.get("kind") in _FROM_TABLES:
        st.info(t(_FROM_TABLES[answer["kind"]]), icon=":material/calculate:")
        st.markdown(escape_md(answer.get("answer", "")).replace("\n", "  \n"))
    else:
        st.markdown(escape_md(answer.get("answer", "")))
        if answer.get("stopped"):
            st.caption(t("Stopped: the answer above is what had been checked when you pressed Stop."))
    render_citations(answer.get("citations") or [])
    render_left_out(list(answer.get("unsupported_sentences") or []))
    timings = answer.get("timings") or {}
    if timings.get("total_ms"):
        st.caption(t("Answered in {seconds} s", seconds=f"{timings['total_ms'] / 1000:.1f}"))


# ---------------------------------------------------------------------- ingestion jobs
def job_label(job: dict[str, Any]) -> str:
    return t(
        "{kb} · job {id} · {status} · {done}/{total} files",
        kb=job["kb"],
        id=job["id"][:8],
        status=t(job["status"]),
        done=job["processed_files"],
        total=job["total_files"],
    )


_STEP_NAMES = {"ocr": N_("OCR of page"), "figures": N_("OCR of figure"), "slides": N_("slide")}
# Job states as the API names them, for the catalog.
_STATES = (
    N_("queued"),
    N_("running"),
    N_("succeeded"),
    N_("partial"),
    N_("failed"),
    N_("dead"),
    N_("cancelled"),
)


def step_label(current: dict[str, Any]) -> str:
    """``scan.pdf: OCR of page 4 of 40``: what a running job is doing inside its current file."""
    total = int(current.get("total") or 0)
    done = min(int(current.get("done") or 0) + 1, total)
    step = str(current.get("step", ""))
    what = t(_STEP_NAMES[step]) if step in _STEP_NAMES else step
    return t(
        "{source}: {step} {done} of {total}",
        source=current.get("source", ""),
        step=what,
        done=done,
        total=total,
    )


def render_job(job: dict[str, Any]) -> None:
    """One job: a progress bar, its counts, and per-file results with the reasons for failures."""
    total = max(int(job["total_files"]), 1)
    done = job["status"] in JOB_DONE
    fraction = 1.0 if done else min(int(job["processed_files"]) / total, 1.0)
    st.progress(fraction, text=job_label(job))
    current = job.get("current")
    if current and not done and current.get("total"):
        inner = min(int(current.get("done") or 0) / int(current["total"]), 1.0)
        st.progress(inner, text=escape_md(step_label(current)))
    counts = t(
        "added {added} · updated {updated} · unchanged {unchanged} · failed {failed} · chunks {chunks}",
        **{k: job[k] for k in ("added", "updated", "unchanged", "failed", "chunks")},
    )
    status = t(job["status"])
    if job["status"] == "succeeded":
        st.success(t("Finished: {counts}", counts=counts))
    elif job["status"] in ("partial", "failed", "dead", "cancelled"):
        st.error(f"{status.capitalize()}: {counts}" + (f" — {job['error']}" if job.get("error") else ""))
    else:
        st.caption(f"{status.capitalize()}… {counts}")
    results = job.get("results") or []
    if results:
        st.dataframe(
            [
                {
                    "file": str(r.get("path", "")).rsplit("/", 1)[-1],
                    "outcome": r.get("outcome"),
                    "chunks": r.get("chunks"),
                    "error": r.get("error") or "",
                }
                for r in results
            ],
            hide_index=True,
            use_container_width=True,
        )
        for r in results:
            if r.get("error"):
                st.error(f"{str(r.get('path', '')).rsplit('/', 1)[-1]}: {r['error']}")


def job_monitor(client_factory: Callable[[], ApiClient], state_key: str) -> None:
    """Live progress for the job ids listed in ``st.session_state[state_key]``, newest first.

    While a job runs, the panel re-polls ``GET /jobs/{id}`` every second (a fragment, so only the
    panel reruns); when the last one finishes the whole page reruns once to show the new documents."""
    job_ids: list[str] = st.session_state.get(state_key) or []
    if not job_ids:
        return
    statuses: dict[str, str] = st.session_state.setdefault(f"{state_key}_status", {})
    settled = JOB_DONE | {UNREADABLE}
    active = any(statuses.get(j) not in settled for j in job_ids)

    def panel() -> None:
        with api_errors():  # a 401 (session ended) goes back to sign-in
            show(any(statuses.get(j) not in settled for j in job_ids))

    def show(was_active: bool) -> None:
        for job_id in job_ids:
            with st.container(border=True):
                try:
                    job = client_factory().job(job_id)
                except ApiError as exc:
                    if exc.status == 401:
                        raise
                    statuses[job_id] = UNREADABLE
                    st.error(f"Job {job_id[:8]}: {exc.detail}")
                    continue
                statuses[job_id] = job["status"]
                render_job(job)
        if was_active and all(statuses.get(j) in settled for j in job_ids):
            st.rerun(scope="app")

    st.fragment(panel, run_every=POLL_SECONDS if active else None)()
