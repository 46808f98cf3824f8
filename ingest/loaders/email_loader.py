"""E-mail (.eml, RFC 5322, Python's email package): the message is one document (subject, sender,
recipients, date, body with HTML turned into text); each attachment becomes a document of its own,
linked to the message, read by the loader of its type."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import tempfile
from dataclasses import replace
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from core.errors import CorruptFileError, LoaderError
from core.types import Block, Document, sha256_hex
from ingest.loaders.base import LoadOptions, clean_cell, meaningful_title
from ingest.loaders.html_loader import parse_html

log = logging.getLogger(__name__)

MAX_DEPTH = 3  # a message attached to a message attached to a message ... stops here
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]&+,]+")
_PARAGRAPH = re.compile(r"\n\s*\n")


def _attachment_name(part: EmailMessage, index: int, taken: set[str]) -> str:
    """A safe, unique file name for an attachment (its own, else one derived from its type)."""
    raw = part.get_filename() or ""
    name = _UNSAFE_NAME.sub("_", raw.replace("\\", "/").split("/")[-1]).strip(" .")
    if not name:
        ext = {"message/rfc822": ".eml", "text/html": ".html", "text/plain": ".txt"}.get(
            part.get_content_type(), ""
        )
        name = f"attachment-{index}{ext}"
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}" if dot else f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _payload(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else part.get_content()
        return bytes(inner) if isinstance(inner, EmailMessage) else str(inner).encode()
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _date(value: str) -> str:
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return value


def _body_blocks(message: EmailMessage) -> list[Block]:
    """The message text: the plain-text part, else the HTML part turned into text."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return []
    try:
        text = body.get_content()
    except (LookupError, UnicodeError):  # an unknown charset: read what decodes
        raw = body.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if body.get_content_type() == "text/html":
        return parse_html(text)[0]
    return [Block(kind="paragraph", text=p.strip()) for p in _PARAGRAPH.split(text) if p.strip()]


class EmailLoader:
    """``.eml`` files: the message first, then one document per readable attachment."""

    format = "eml"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        data = path.read_bytes()
        source = self.options.source_for(path)
        message = email.message_from_bytes(data, policy=email.policy.default)
        if not isinstance(message, EmailMessage) or not any(message.get(h) for h in _HEADERS):
            raise CorruptFileError(
                source, "not an e-mail message: no From, To, Date or Subject header; export it as .eml again"
            )
        if message.defects and not message.get_payload():
            raise CorruptFileError(
                source, f"damaged e-mail message ({message.defects[0].__class__.__name__})"
            )
        headers = {h: clean_cell(message.get(h, "")) for h in _HEADERS}
        headers["Date"] = _date(headers["Date"]) if headers["Date"] else ""
        subject = headers["Subject"]
        attachments, skipped = self._attachments(message, source, subject)
        lines = [f"{h}: {v}" for h, v in headers.items() if v]
        blocks = [Block(kind="paragraph", text="\n".join(lines)), *_body_blocks(message)]
        if attachments or skipped:
            names = [d.source.rsplit("/", 1)[-1] for d in attachments] + [s["name"] for s in skipped]
            blocks.append(Block(kind="paragraph", text="Attachments: " + ", ".join(dict.fromkeys(names))))
        metadata: dict[str, Any] = {
            "email": {k.lower(): v for k, v in headers.items() if v},
            "attachments": sorted({d.source for d in attachments}),
        }
        if skipped:
            metadata["attachments_skipped"] = skipped
        doc = Document(
            source=source,
            title=meaningful_title(subject) or path.stem,
            blocks=tuple(b for b in blocks if b.text.strip()),
            content_hash=sha256_hex(data),
            format=self.format,
            metadata=metadata,
        )
        return [doc, *attachments]

    def _attachments(
        self, message: EmailMessage, source: str, subject: str
    ) -> tuple[list[Document], list[dict[str, str]]]:
        """Documents of the attachments, and the ones that could not be read with the reason."""
        from ingest.loaders import load_path  # the registry imports this module: import at call time

        docs: list[Document] = []
        skipped: list[dict[str, str]] = []
        parts = list(message.iter_attachments())
        if not parts:
            return docs, skipped
        if self.options.depth >= MAX_DEPTH:
            return docs, [{"name": "(nested attachments)", "reason": f"more than {MAX_DEPTH} levels deep"}]
        taken: set[str] = set()
        with tempfile.TemporaryDirectory(prefix="kb-mail-") as tmp:
            for index, part in enumerate(parts, 1):
                name = _attachment_name(part, index, taken)
                target = Path(tmp) / name
                target.write_bytes(_payload(part))
                try:
                    loaded = load_path(
                        target,
                        source=f"{source}/{name}",
                        max_expanded_bytes=self.options.max_expanded_bytes,
                        ocr=self.options.ocr,
                        ocr_dpi=self.options.ocr_dpi,
                        progress=self.options.progress,
                        depth=self.options.depth + 1,
                    )
                except LoaderError as exc:
                    log.info("%s: attachment %s not indexed: %s", source, name, exc.reason)
                    skipped.append({"name": name, "reason": exc.reason})
                    continue
                link = {"attached_to": source, "email_subject": subject}
                docs.extend(replace(doc, metadata={**doc.metadata, **link}) for doc in loaded)
        return docs, skipped
