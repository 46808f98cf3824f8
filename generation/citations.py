"""Citations of a checked answer: whole-answer checks, the snippet each source is cited for, and
de-duplicated closest sources when there is nothing to cite."""

from __future__ import annotations

from core.types import Citation, Hit
from generation.sentences import cited_numbers, is_bare_citation, numbers_in, split_sentences
from generation.support import SentenceCheck, SupportChecker, SupportConfig, content_terms, is_filler

# The strict check the evaluation re-checks shown answers with: key terms and numbers, no embeddings.
LEXICAL = SupportConfig(min_similarity=None)


def check_answer(text: str, hits: list[Hit], checker: SupportChecker | None = None) -> list[SentenceCheck]:
    """Check each sentence of a finished answer against the passages it cites. Uncited sentences
    count as unsupported unless they make no factual claim. Without ``checker``: the strict lexical
    and number check alone (what the evaluation re-checks shown answers with)."""
    checker = checker or SupportChecker(LEXICAL)
    evidence = checker.evidence(hits)
    checks: list[SentenceCheck] = []
    for sentence in split_sentences(text):
        if is_bare_citation(sentence):
            continue
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(hits)]
        if cited:
            ok, why, similarity = checker.supports(sentence, cited, evidence)
            checks.append(SentenceCheck(sentence, tuple(cited), ok, why, similarity))
        elif is_filler(sentence, evidence.terms(), evidence.asked):
            checks.append(SentenceCheck(sentence, (), True, "no factual claim"))
        else:
            checks.append(SentenceCheck(sentence, (), False, "no citation"))
    return checks


def best_snippet(sentence_texts: list[str], passage: str, *, width: int = 300) -> tuple[str, int]:
    """The passage sentence sharing most numbers and key terms with the citing sentences, and its
    offset in ``passage``. The chunk's heading-path line is never the snippet."""
    body = passage.split("\n", 1)[-1] if "\n" in passage else passage
    offset = len(passage) - len(body)
    wanted = set().union(*(content_terms(s) for s in sentence_texts)) if sentence_texts else set()
    numbers = numbers_in(" ".join(sentence_texts))
    best, best_score, best_pos = body[:width], -1.0, 0
    pos = 0
    for sent in split_sentences(body):
        start = body.find(sent, pos)
        pos = max(pos, start)
        # A figure is the most specific thing a sentence cites: the row or sentence holding it wins.
        score = len(wanted & content_terms(sent)) + 2.0 * len(numbers & numbers_in(sent))
        if score > best_score:
            best, best_score, best_pos = sent[:width], score, max(start, 0)
    return best, offset + best_pos


def section_of(hit: Hit) -> str:
    """The passage's heading path without the document title it usually starts with."""
    path = list(hit.heading_path)
    if path and path[0].strip().lower() == (hit.title or "").strip().lower():
        path = path[1:]
    return " > ".join(path)


def page_end_of(hit: Hit) -> int | None:
    """The last page of a passage that runs over a page break (None when it sits on one page)."""
    end = hit.metadata.get("page_end")
    return end if isinstance(end, int) and hit.page and end > hit.page else None


def citation_for(n: int, hit: Hit, citing: list[str]) -> Citation:
    """Source ``n`` as a citation, with the snippet that best supports the ``citing`` sentences."""
    snippet, offset = best_snippet(citing, hit.text)
    context = len(hit.text) - len(hit.text.split("\n", 1)[-1]) if "\n" in hit.text else 0
    start = hit.char_start + max(0, offset - context)
    return Citation(
        n=n,
        chunk_id=hit.chunk_id,
        document_id=hit.document_id,
        source=hit.source,
        title=hit.title,
        page=hit.page,
        section=section_of(hit) or None,
        snippet=snippet,
        char_start=start,
        char_end=min(hit.char_end, start + len(snippet)),
        kb=hit.kb,
        ocr_confidence=hit.metadata.get("ocr_confidence"),
        page_end=page_end_of(hit),
    )


def build_citations(sentences: list[str], hits: list[Hit]) -> list[Citation]:
    """One citation per source the shown sentences cite, with the snippet that supports them."""
    by_source: dict[int, list[str]] = {}
    for sentence in sentences:
        for n in cited_numbers(sentence):
            if 1 <= n <= len(hits):
                by_source.setdefault(n, []).append(sentence)
    return [citation_for(n, hits[n - 1], by_source[n]) for n in sorted(by_source)]


def closest_sources(question: str, hits: list[Hit], limit: int = 3) -> list[Citation]:
    """The passages that came closest, one per document and page, each with the sentence nearest the
    question as its snippet (``n`` is the passage's rank)."""
    seen: set[tuple[str, int | None, str]] = set()
    out: list[Citation] = []
    for n, hit in enumerate(hits, 1):
        key = (hit.document_id, hit.page, "" if hit.page else " > ".join(hit.heading_path))
        if key in seen:
            continue
        seen.add(key)
        out.append(citation_for(n, hit, [question]))
        if len(out) == limit:
            break
    return out
