"""Upload helpers for the admin pages, kept out of the page scripts so they can be tested alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import streamlit as st

from app.ui.client import ApiClient

TRACKED_JOBS = "tracked_jobs"
# What the file picker offers: the API's supported types (ingest.loaders.SUPPORTED_EXTENSIONS; a test
# keeps the two equal, since the UI never imports the ingest layer).
ACCEPTED_TYPES = [
    "pdf",
    "docx",
    "xlsx",
    "xlsm",
    "pptx",
    "eml",
    "html",
    "htm",
    "xhtml",
    "md",
    "markdown",
    "txt",
    "text",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "png",
    "jpg",
    "jpeg",
    "tif",
    "tiff",
    "bmp",
    "webp",
    "doc",
    "xls",
    "ppt",
    "rtf",
    "odt",
    "ods",
    "odp",
]


class NamedFile(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def parse_tags(text: str) -> list[str]:
    """``"hr, benefits ,"`` → ``["benefits", "hr"]``."""
    return sorted({t.strip() for t in text.split(",") if t.strip()})


def submit_upload(
    api: ApiClient,
    kb: str,
    files: Iterable[NamedFile],
    access_groups: list[str] | None = None,
    tags_text: str = "",
) -> str:
    """Send the files to ``POST /kbs/{kb}/documents``; the ingestion job's id (raises ``ApiError``)."""
    payload = [(f.name, f.getvalue()) for f in files]
    if not payload:
        raise ValueError("choose at least one file")
    return str(api.upload(kb, payload, access_groups or [], parse_tags(tags_text))["job_id"])


def track_job(job_id: str, key: str = TRACKED_JOBS) -> None:
    """Show ``job_id`` (first) in the job panel of the upload and documents pages."""
    jobs: list[str] = st.session_state.setdefault(key, [])
    if job_id not in jobs:
        jobs.insert(0, job_id)
    del jobs[10:]
