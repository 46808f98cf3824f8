"""Citation parsing and checking: phantom citations removed, each cited sentence checked against
its passages (key terms and every number), unsupported sentences reported."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text_tokenize import tokenize
from core.types import Citation, Hit

_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,]*(?:\.\d+)?%?")
_FILLER = re.compile(
    r"^(hi|hello|dear|thanks|thank you|best regards|kind regards|regards|sincerely|i hope|please let|"
    r"feel free|let me know|if you have|is there anything)",
    re.I,
)


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer with its valid citations and whether the sources back it."""

    text: str
    cited: tuple[int, ...]
    supported: bool
    reason: str = ""


def normalise_number(token: str) -> str:
    return token.replace("$", "").replace(",", "").rstrip("%").lstrip("+")


def numbers_in(text: str) -> set[str]:
    out = set()
    for match in _NUMBER.findall(text):
        value = normalise_number(match)
        if value.strip("-"):
            out.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return out


_LEADING_CITES = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")


def split_sentences(text: str) -> list[str]:
    """Sentences, with citation markers written after the full stop ("… windows. [1] [2]") kept on
    the sentence they follow rather than split off as a sentence of their own."""
    out: list[str] = []
    for part in (s.strip() for s in _SENTENCE.split(text) if s and s.strip()):
        leading = _LEADING_CITES.match(part)
        if leading and out:
            out[-1] = f"{out[-1]} {leading.group(1).strip()}"
            part = part[leading.end() :].strip()
        if part:
            out.append(part)
    return out


def strip_phantoms(text: str, n_sources: int) -> tuple[str, int]:
    """Remove citations to sources that do not exist; returns (text, how many were removed)."""
    removed = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal removed
        nums = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        keep = [n for n in nums if 1 <= n <= n_sources]
        removed += len(nums) - len(keep)
        return "".join(f"[{n}]" for n in keep)

    cleaned = _CITE.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned), removed


def cited_numbers(sentence: str) -> tuple[int, ...]:
    found: list[int] = []
    for group in _CITE.findall(sentence):
        found += [int(x) for x in re.split(r"\s*[,;]\s*", group)]
    return tuple(dict.fromkeys(found))


def _content(text: str) -> set[str]:
    return {t for t in tokenize(_CITE.sub(" ", text)) if len(t) > 2 and not t.isdigit()}


def check_sentence(sentence: str, passages: list[str], *, min_overlap: float = 0.5) -> tuple[bool, str]:
    """Supported when every number appears in the cited passages and enough key terms do too."""
    joined = " ".join(passages)
    missing_numbers = numbers_in(_CITE.sub(" ", sentence)) - numbers_in(joined)
    if missing_numbers:
        return False, f"numbers not in the cited sources: {', '.join(sorted(missing_numbers))}"
    terms = _content(sentence)
    if not terms:
        return True, ""
    overlap = len(terms & _content(joined)) / len(terms)
    if overlap < min_overlap:
        return False, f"only {overlap:.0%} of its key terms appear in the cited sources"
    return True, ""


def attribute_citations(text: str, hits: list[Hit], *, min_overlap: float = 0.6) -> str:
    """Add a citation to each uncited factual sentence that one source clearly supports.

    Small local models often state a sourced fact and forget the marker; the marker is added only
    when the same support check that validates model-written citations passes for that source.
    """
    out: list[str] = []
    for sentence in split_sentences(text):
        if not _CITE.sub("", sentence).strip(" .,;:"):
            continue  # a stray "[1], [2]" line
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(hits)]
        if cited:
            out.append(_recite(sentence, cited, hits))
            continue
        if _FILLER.match(sentence) or len(_content(sentence)) <= 2:
            out.append(sentence)
            continue
        terms = _content(sentence)
        best, best_overlap = 0, 0.0
        for n, hit in enumerate(hits, start=1):
            ok, _ = check_sentence(sentence, [hit.text], min_overlap=min_overlap)
            overlap = len(terms & _content(hit.text)) / max(1, len(terms))
            if ok and overlap > best_overlap:
                best, best_overlap = n, overlap
        out.append(_append_citations(sentence, [best]) if best else sentence)
    return " ".join(out)


def _recite(sentence: str, cited: list[int], hits: list[Hit]) -> str:
    """Fix a sentence that cites the wrong passage: when its cited passages miss some of its numbers
    but the retrieved passages together support it, also cite the passages that hold those numbers."""
    ok, _ = check_sentence(sentence, [hits[n - 1].text for n in cited])
    if ok or not check_sentence(sentence, [h.text for h in hits])[0]:
        return sentence
    missing = numbers_in(_CITE.sub(" ", sentence)) - numbers_in(" ".join(hits[n - 1].text for n in cited))
    extra = [n for n, h in enumerate(hits, 1) if n not in cited and missing & numbers_in(h.text)]
    return _append_citations(sentence, extra) if extra else sentence


def _append_citations(sentence: str, numbers: list[int]) -> str:
    """``[n]`` markers placed before the sentence's final punctuation."""
    stripped = sentence.rstrip()
    end = stripped[-1] if stripped[-1:] in ".!?" else ""
    body = stripped[: len(stripped) - len(end)]
    space = "" if body.endswith("]") else " "
    return f"{body}{space}{''.join(f'[{n}]' for n in numbers)}{end}"


def check_answer(text: str, hits: list[Hit], *, min_overlap: float = 0.5) -> list[SentenceCheck]:
    """Check each sentence. Uncited sentences count as unsupported unless they are pleasantries
    or make no factual claim (no numbers and no key terms)."""
    checks: list[SentenceCheck] = []
    for sentence in split_sentences(text):
        if not _CITE.sub("", sentence).strip(" .,;:"):
            continue  # a bare "[1]" carries no claim of its own
        cited = tuple(n for n in cited_numbers(sentence) if 1 <= n <= len(hits))
        if cited:
            ok, reason = check_sentence(sentence, [hits[n - 1].text for n in cited], min_overlap=min_overlap)
            checks.append(SentenceCheck(sentence, cited, ok, reason))
            continue
        bare = _CITE.sub("", sentence).strip()
        trivial = _FILLER.match(bare) or (not numbers_in(bare) and len(_content(bare)) <= 2)
        if trivial:
            checks.append(SentenceCheck(sentence, (), True, "no factual claim"))
        else:
            ok, reason = check_sentence(sentence, [h.text for h in hits], min_overlap=0.8)
            checks.append(
                SentenceCheck(sentence, (), False, "no citation" + (f"; {reason}" if reason else ""))
            )
    return checks


def best_snippet(sentence_texts: list[str], passage: str, *, width: int = 300) -> tuple[str, int]:
    """The passage sentence sharing most key terms with the citing sentences, and its offset."""
    body = passage.split("\n", 1)[-1] if "\n" in passage else passage
    offset = len(passage) - len(body)
    wanted = set().union(*(_content(s) for s in sentence_texts)) if sentence_texts else set()
    best, best_score, best_pos = body[:width], -1.0, 0
    pos = 0
    for sent in split_sentences(body):
        start = body.find(sent, pos)
        pos = max(pos, start)
        score = len(wanted & _content(sent)) + 0.5 * len(
            numbers_in(" ".join(sentence_texts)) & numbers_in(sent)
        )
        if score > best_score:
            best, best_score, best_pos = sent[:width], score, max(start, 0)
    return best, offset + best_pos


def build_citations(checks: list[SentenceCheck], hits: list[Hit]) -> list[Citation]:
    """One Citation per source actually cited, with the snippet that best supports the citing text."""
    by_source: dict[int, list[str]] = {}
    for check in checks:
        for n in check.cited:
            by_source.setdefault(n, []).append(check.text)
    citations = []
    for n in sorted(by_source):
        hit = hits[n - 1]
        snippet, offset = best_snippet(by_source[n], hit.text)
        context = len(hit.text) - len(hit.text.split("\n", 1)[-1]) if "\n" in hit.text else 0
        start = hit.char_start + max(0, offset - context)
        citations.append(
            Citation(
                n=n,
                chunk_id=hit.chunk_id,
                document_id=hit.document_id,
                source=hit.source,
                title=hit.title,
                page=hit.page,
                section=" > ".join(hit.heading_path) or None,
                snippet=snippet,
                char_start=start,
                char_end=min(hit.char_end, start + len(snippet)),
                kb=hit.kb,
                ocr_confidence=hit.metadata.get("ocr_confidence"),
            )
        )
    return citations
