"""Does a passage back a sentence? Every number must appear in it (exact-number rule), and either
enough of the sentence's key terms appear in it (lexical) or one of its sentences says the same thing
in other words (semantic: cosine of sentence embeddings, with the embedder retrieval already loaded).

The thresholds are calibrated on the dev sets (``benchmarks/support_calibration.py``, table in
docs/benchmarks.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.text_match import compact, has_han, key_terms, language_of, number_values
from core.types import Hit
from generation.figures import figures_from_named_rows, misplaced_figures, table_scales
from generation.sentences import CITE, LIST_ITEM, cited_numbers, split_sentences

Embed = Callable[[list[str]], np.ndarray]

_FILLER = re.compile(
    r"^(hi|hello|dear|thanks|thank you|best regards|kind regards|regards|sincerely|i hope|please let|"
    r"feel free|let me know|if you have|is there anything|i'?m sorry|sorry to hear|we apologi[sz]e|"
    r"i understand|yes[,.!]?$|no[,.!]?$|"
    r"您好|你好|尊敬的|亲爱的|感谢|谢谢|此致|祝好|祝您|如有|如果您有|请随时|很抱歉|抱歉|我们理解|希望)",
    re.I,
)


@dataclass(frozen=True)
class SupportConfig:
    """Support thresholds. ``min_similarity`` None turns the semantic test off (lexical only).
    ``window``: the key terms must be found within this many consecutive passage sentences (or one
    list with its lead-in), not scattered over the whole passage; None: anywhere in it."""

    min_overlap: float = 0.6
    min_similarity: float | None = 0.7
    uncited_overlap: float = 0.7  # stricter: a marker the model did not write is added only on clear support
    window: int | None = 3


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer with its valid citations and whether the sources back it."""

    text: str
    cited: tuple[int, ...]
    supported: bool
    reason: str = ""
    similarity: float | None = None
    dropped_items: str = ""  # list items the sources lack, removed from ``text``


def content_terms(text: str) -> set[str]:
    """Key terms of a text (``core.text_match.key_terms``: stemmed English words longer than two
    letters, segmented Chinese words of two characters or more; no stopwords, no bare numbers)."""
    return key_terms(CITE.sub(" ", text))


def numbers_in(text: str) -> set[str]:
    """Numbers of a text by value, in either language (full-width digits, 万/亿 applied)."""
    return number_values(text)


# Polite words that passages may contain too ("questions", "contact us", "help").
POLITE = frozenset(
    content_terms(
        "question questions help helps contact ask asking reach assist welcome great happy glad thanks "
        "thank sorry hear hope further feel free know anything else day"
    )
)


def is_pleasantry(
    sentence: str, topic_terms: set[str] | None = None, asked_terms: frozenset[str] | set[str] = frozenset()
) -> bool:
    """Greetings, thanks, sympathy and sign-offs. With ``topic_terms`` (the passages' key terms), a
    sentence that opens like one but states something about the topic ("Thanks for asking, claims
    are always approved") is a claim: only the asker's own words and polite words may follow."""
    bare = CITE.sub("", sentence).strip()
    if not _FILLER.match(bare) or numbers_in(bare):
        return False
    if topic_terms is None:
        return True
    return not ((content_terms(bare) - asked_terms - POLITE) & topic_terms)


_ANSWERS = re.compile(r"^(?:yes|no)\b[\s,]+\w", re.I)


def is_filler(
    sentence: str, topic_terms: set[str] | None = None, asked_terms: frozenset[str] | set[str] = frozenset()
) -> bool:
    """Pleasantries and sentences with no factual claim (no number, at most two key terms). "Yes, it
    has a remote." is short but a claim."""
    bare = CITE.sub("", sentence).strip()
    if _ANSWERS.match(bare):
        return False
    return is_pleasantry(bare, topic_terms, asked_terms) or (
        not numbers_in(bare) and len(content_terms(bare)) <= 2
    )


def lexical_overlap(sentence: str, passage: str) -> float:
    terms = content_terms(sentence)
    return len(terms & content_terms(passage)) / len(terms) if terms else 1.0


_ITEM_SPLIT = re.compile(r",\s*(?:and |or )?|;\s*|\s+(?:and|or)\s+")


def _items(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each item of an enumeration in ``sentence``; fewer than three: not one."""
    tail = re.search(r"[\s.!?]*(?:\[\d+(?:\s*[,;]\s*\d+)*\][\s.!?]*)*$", sentence)
    body_end = tail.start() if tail else len(sentence)  # the closing markers and stop are no item
    spans, pos = [], 0
    for separator in [*_ITEM_SPLIT.finditer(sentence[:body_end]), None]:
        end = separator.start() if separator else body_end
        if sentence[pos:end].strip(" ."):
            spans.append((pos, end))
        pos = separator.end() if separator else pos
    return spans if len(spans) >= 3 else []


def unsupported_items(sentence: str, passage: str, min_overlap: float) -> list[tuple[int, int]]:
    """In an enumeration ("covers gym memberships, yoga, …, and food"), the spans of the items whose
    key terms the passage mostly lacks. A long list that is mostly right must not carry a wrong item
    past a share-of-terms check."""
    have = content_terms(passage)
    out = []
    for start, end in _items(sentence)[1:]:  # the first item carries the frame ("PerksPlus covers …")
        terms = content_terms(CITE.sub(" ", sentence[start:end]))
        if terms and len(terms & have) / len(terms) < min_overlap:
            out.append((start, end))
    return out


def without_items(sentence: str, spans: list[tuple[int, int]]) -> str:
    """``sentence`` with the items at ``spans`` (and the separators before them) removed."""
    items = _items(sentence)
    out, pos = "", 0
    for i, (start, end) in enumerate(items):
        if (start, end) in spans:
            out += sentence[pos : items[i - 1][1]] if i else ""
            pos = end
    out += sentence[pos:]
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"(,\s*)+(and|or)?\s*(?=[.!?]|\[|$)", "", out)).strip()


def missing_numbers(sentence: str, passages: list[str]) -> set[str]:
    """Numbers in ``sentence`` (citation markers aside) that none of ``passages`` contains."""
    return numbers_in(CITE.sub(" ", sentence)) - numbers_in(" ".join(passages))


class Evidence:
    """The passages an answer may cite, each split into sentences, embedded once per question."""

    def __init__(self, hits: list[Hit], embed: Embed | None = None, question: str = "") -> None:
        self.hits = hits
        self.embed = embed
        self.question = question
        self.asked = content_terms(question)  # the asker's own words may be echoed politely
        self.language = language_of(question) if question else "en"
        self.units: list[list[str]] = [passage_units(h.text, h) for h in hits]
        self._vectors: list[np.ndarray] | None = None
        self._clauses: list[tuple[np.ndarray, list[int]]] | None = None
        self._terms: set[str] | None = None
        self._windows: dict[tuple[int, int], list[set[str]]] = {}

    def windows(self, n: int, size: int) -> list[set[str]]:
        """Key-term sets of passage ``n``'s runs of ``size`` consecutive sentences, and of each list
        with the sentence leading into it."""
        key = (n, size)
        if key not in self._windows:
            units = self.units[n - 1]
            terms = [content_terms(u) for u in units]
            out = [set().union(*terms[i : i + size]) for i in range(max(1, len(units) - size + 1))]
            start = None
            for i, unit in enumerate([*units, ""]):
                if LIST_ITEM.match(unit):
                    start = i - 1 if start is None else start
                elif start is not None:
                    out.append(set().union(*terms[max(start, 0) : i]))
                    start = None
            self._windows[key] = out
        return self._windows[key]

    def local_overlap(self, sentence: str, cited: list[int], size: int | None) -> float:
        """The share of the sentence's key terms found together in one window of each cited passage
        (or anywhere in them when ``size`` is None)."""
        wanted = content_terms(sentence)
        if not wanted:
            return 1.0
        if size is None:
            return lexical_overlap(sentence, " ".join(self.hits[n - 1].text for n in cited))
        found: set[str] = set()  # a sentence citing two passages may join one window of each
        for n in cited:
            found |= max((wanted & w for w in self.windows(n, size)), key=len, default=set())
        return len(found) / len(wanted)

    def terms(self) -> set[str]:
        """Key terms of all the passages together."""
        if self._terms is None:
            self._terms = content_terms(" ".join(h.text for h in self.hits))
        return self._terms

    def vectors(self) -> list[np.ndarray]:
        """Per passage, one unit-normalised row per sentence (computed on first use)."""
        if self._vectors is None:
            assert self.embed is not None
            flat = [u for units in self.units for u in units]
            matrix = self.embed(flat) if flat else np.zeros((0, 1), np.float32)
            out, start = [], 0
            for units in self.units:
                out.append(matrix[start : start + len(units)])
                start += len(units)
            self._vectors = out
        return self._vectors

    def clauses(self) -> list[tuple[np.ndarray, list[int]]]:
        """Per passage, vectors of the clauses of its long sentences, with the sentence each is from:
        a claim often restates one clause of a long sentence, whose whole vector is diluted."""
        if self._clauses is None:
            assert self.embed is not None
            pieces = [[(c, i) for i, u in enumerate(units) for c in long_clauses(u)] for units in self.units]
            flat = [c for passage in pieces for c, _ in passage]
            matrix = self.embed(flat) if flat else np.zeros((0, 1), np.float32)
            out, start = [], 0
            for passage in pieces:
                out.append((matrix[start : start + len(passage)], [i for _, i in passage]))
                start += len(passage)
            self._clauses = out
        return self._clauses

    def similarity(self, vector: np.ndarray, n: int) -> tuple[float, int]:
        """(best cosine, index of that sentence) between ``vector`` and passage ``n``'s sentences or
        the clauses of its long sentences."""
        rows = self.vectors()[n - 1]
        if not len(rows):
            return 0.0, -1
        scores = rows @ vector
        best = int(np.argmax(scores))
        score = float(scores[best])
        clause_rows, owners = self.clauses()[n - 1]
        if len(clause_rows):
            clause_scores = clause_rows @ vector
            top = int(np.argmax(clause_scores))
            if clause_scores[top] > score:
                score, best = float(clause_scores[top]), owners[top]
        return score, best


_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=\b(?:which|while|making|and|but)\b)")
LONG_SENTENCE_WORDS = 16


def long_clauses(sentence: str) -> list[str]:
    """The clauses (of five words or more) of a sentence longer than ``LONG_SENTENCE_WORDS``."""
    if len(sentence.split()) <= LONG_SENTENCE_WORDS:
        return []
    out: list[str] = []
    for part in _CLAUSE.split(sentence):
        if out and len(out[-1].split()) < 5:
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return [c for c in out if len(c.split()) >= 5] if len(out) > 1 else []


def passage_units(text: str, hit: Hit | None = None) -> list[str]:
    """A passage's sentences (table rows and list items count as sentences), without the heading-path
    line chunks start with (it repeats the source's title and section, which its label shows)."""
    paths = {" > ".join(hit.heading_path), hit.title} if hit is not None else set()
    return [
        u
        for u in split_sentences(text)
        if u.strip() and u.strip() not in paths and not (" > " in u and not u.rstrip().endswith("."))
    ]


class SupportChecker:
    """Checks answer sentences against the passages they cite (or could cite)."""

    def __init__(self, config: SupportConfig | None = None, embed: Embed | None = None) -> None:
        self.config = config or SupportConfig()
        self.embed = embed  # also what quotes and context selection use

    def evidence(self, hits: list[Hit], question: str = "") -> Evidence:
        return Evidence(hits, self.embed, question)

    def _vector(self, sentence: str) -> np.ndarray | None:
        if self.embed is None or self.config.min_similarity is None:
            return None
        return self.embed([CITE.sub(" ", sentence).strip()])[0]

    def supports(
        self, sentence: str, cited: list[int], evidence: Evidence, vector: np.ndarray | None = None
    ) -> tuple[bool, str, float | None]:
        """(supported, reason when not, best cosine) of ``sentence`` against passages ``cited``."""
        texts = [evidence.hits[n - 1].text for n in cited]
        absent = missing_numbers(sentence, texts)
        if absent:
            return False, f"numbers not in the cited sources: {', '.join(sorted(absent))}", None
        misplaced = misplaced_figures(sentence, [evidence.hits[n - 1] for n in cited], evidence.question)
        if misplaced:
            return False, misplaced, None
        joined = " ".join(texts)
        wrong = unsupported_items(sentence, joined, self.config.min_overlap)
        if wrong:
            first = CITE.sub("", sentence[wrong[0][0] : wrong[0][1]]).strip(" .")
            return False, f"{first!r} is not in the cited sources", None
        same_chinese = language_of(sentence) == "zh" and language_of(joined) == "zh"
        if same_chinese:
            # What a Chinese answer adds to the question is its claim: "芙蓉洞位于中国云南省" shares
            # 芙蓉洞, 位于 and 中国 with a passage that places it in 重庆, so most of the words it
            # adds must be in the cited passages, not just most of all its words.
            added = content_terms(CITE.sub(" ", sentence)) - evidence.asked
            body = compact(joined)
            found = [t for t in added if compact(t) in body]
            if added and len(found) < self.config.min_overlap * len(added):
                missing = "、".join(sorted(t for t in added if t not in found))
                return False, f"{missing} is not in the cited sources", None
        cited_hits = [evidence.hits[n - 1] for n in cited]
        if figures_from_named_rows(sentence, cited_hits, evidence.asked):
            # A figure read off the row the question asks about, in the period the sentence names:
            # supported when the sentence adds nothing but the question's words, the passage's and
            # the scale its table states ("million").
            added = content_terms(CITE.sub(" ", sentence)) - evidence.asked - content_terms(joined)
            if not added - content_terms(" ".join(table_scales(cited_hits))):
                return True, "", None
        overlap = evidence.local_overlap(sentence, cited, self.config.window)
        similarity = None
        if vector is not None:
            similarity = max(evidence.similarity(vector, n)[0] for n in cited)
        if overlap >= self.config.min_overlap:
            return True, "", similarity
        # In one language a paraphrase keeps the names, and the embedder finds "芙蓉洞位于云南昆明" as
        # close to "芙蓉洞位于重庆武隆" as a true paraphrase: Chinese from Chinese passages is checked by
        # its key terms alone. Across languages (a Chinese answer from English sources, or the other
        # way) the embedding has to decide.
        if not same_chinese and similarity is not None and similarity >= (self.config.min_similarity or 1.0):
            return True, "", similarity
        why = f"only {overlap:.0%} of its key terms appear together in the cited sources"
        if similarity is not None:
            why += f" and no cited sentence says the same (similarity {similarity:.2f})"
        return False, why, similarity

    def check(self, sentence: str, evidence: Evidence) -> SentenceCheck:
        """Check one answer sentence. A factual sentence without a marker gets the source that clearly
        supports it (small models often forget the marker); a cited one whose own passages miss a number
        that another retrieved passage holds also cites that passage."""
        n_hits = len(evidence.hits)
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= n_hits]
        if is_pleasantry(sentence, evidence.terms(), evidence.asked):  # "Any questions, ask [3]."
            bare = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(CITE.sub("", sentence).split()))
            return SentenceCheck(bare, (), True, "no factual claim")
        if not cited and is_filler(sentence, evidence.terms(), evidence.asked):
            source = self._short_answer_source(sentence, evidence)
            if source:
                return SentenceCheck(
                    with_citations(sentence, [source]), (source,), True, "quoted short answer"
                )
            return SentenceCheck(sentence, (), True, "no factual claim")
        vector = self._vector(sentence)
        if cited:
            repaired = self._without_wrong_items(sentence, cited, evidence)
            if repaired is not None:
                return repaired
            ok, why, similarity = self.supports(sentence, cited, evidence, vector)
            if not ok and missing_numbers(sentence, [evidence.hits[n - 1].text for n in cited]):
                extra = self._number_sources(sentence, cited, evidence)
                if extra and self.supports(sentence, cited + extra, evidence, vector)[0]:
                    return SentenceCheck(with_citations(sentence, extra), tuple(cited + extra), True)
            return SentenceCheck(sentence, tuple(cited), ok, why, similarity)
        best = self._attribute(sentence, evidence, vector)
        # the source it is given must pass the cited-sentence rules too (in Chinese: what it adds)
        if best and self.supports(sentence, [best], evidence, vector)[0]:
            return SentenceCheck(with_citations(sentence, [best]), (best,), True)
        return SentenceCheck(sentence, (), False, "no citation, and no source clearly supports it")

    def _without_wrong_items(
        self, sentence: str, cited: list[int], evidence: Evidence
    ) -> SentenceCheck | None:
        """A list with items the cited passages lack, shown without them when the rest is supported
        (the items are reported as unsupported); None when the list has no such item."""
        joined = " ".join(evidence.hits[n - 1].text for n in cited)
        wrong = unsupported_items(sentence, joined, self.config.min_overlap)
        if not wrong:
            return None
        kept = without_items(sentence, wrong)
        dropped = "; ".join(CITE.sub("", sentence[a:b]).strip(" .") for a, b in wrong)
        vector = self._vector(kept)
        if len(kept.split()) >= 3 and self.supports(kept, cited, evidence, vector)[0]:
            why = f"left out of the list: {dropped}"
            return SentenceCheck(kept, tuple(cited), True, why, dropped_items=dropped)
        return SentenceCheck(sentence, tuple(cited), False, f"{dropped!r} is not in the cited sources")

    def _short_answer_source(self, sentence: str, evidence: Evidence) -> int:
        """For a Chinese question, the passage an uncited bare answer ("拔都", "CH3CONH2") is copied
        from, if that passage is also about the question (holds one of its key terms); else 0. Small
        models often answer a Chinese question with the span alone, which is its whole claim."""
        bare = compact(CITE.sub(" ", sentence))
        if evidence.language != "zh" or not 2 <= len(bare) <= 40 or is_pleasantry(sentence):
            return 0
        for n, hit in enumerate(evidence.hits, 1):
            body = compact(hit.text)
            if bare in body and any(compact(term) in body for term in evidence.asked):
                return n
        return 0

    def _number_sources(self, sentence: str, cited: list[int], evidence: Evidence) -> list[int]:
        missing = missing_numbers(sentence, [evidence.hits[n - 1].text for n in cited])
        return [
            n for n, hit in enumerate(evidence.hits, 1) if n not in cited and missing & numbers_in(hit.text)
        ]

    def _attribute(self, sentence: str, evidence: Evidence, vector: np.ndarray | None) -> int:
        """The source that best supports an uncited sentence under the stricter rule, or 0."""
        best, best_score = 0, 0.0
        for n, hit in enumerate(evidence.hits, 1):
            if missing_numbers(sentence, [hit.text]):
                continue
            overlap = evidence.local_overlap(sentence, [n], self.config.window)
            similarity = evidence.similarity(vector, n)[0] if vector is not None else 0.0
            lexical_ok = overlap >= max(self.config.uncited_overlap, self.config.min_overlap)
            semantic_ok = vector is not None and similarity >= (self.config.min_similarity or 1.0)
            score = max(overlap, similarity)
            if (lexical_ok or semantic_ok) and score > best_score:
                best, best_score = n, score
        return best


def with_citations(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[n]`` markers placed before its final punctuation."""
    stripped = sentence.rstrip()
    end = stripped[-1] if stripped[-1:] in ".!?。！？；" else ""
    body = stripped[: len(stripped) - len(end)]
    space = "" if body.endswith("]") or has_han(body[-1:]) else " "  # Chinese: no space before [n]
    return f"{body}{space}{''.join(f'[{n}]' for n in numbers)}{end}"
