"""What the model reads: each passage cut down to its sentences most relevant to the question, within
a token budget. On a CPU the prompt is read at ~100 tokens/s, so every passage sentence the model does
not need is time before the first token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from core.types import Hit
from generation.figures import table_scales
from generation.sentences import LIST_ITEM, numbers_in
from generation.support import Evidence, content_terms, passage_units
from retrieval.table_rows import label_match, row_label

GAP = " … "
MIN_RELEVANCE = 0.2
NAMED_ROW = 1.0  # a table row the question names outranks any sentence that only talks about it
_TABLE_CELL = " | "


def relevance(
    question: str,
    question_vector: np.ndarray | None,
    evidence: Evidence,
    row_terms: frozenset[str] = frozenset(),
) -> list[np.ndarray]:
    """Per passage, a relevance score for each sentence: cosine to the question when embeddings are
    available, plus the share of the question's key terms the sentence contains, plus ``NAMED_ROW``
    for a table row whose label the question names (``row_terms``: its line-item words, from the
    route), since the figure asked for is in that row."""
    wanted = content_terms(question)
    vectors = evidence.vectors() if question_vector is not None and evidence.embed else None
    out = []
    for n, units in enumerate(evidence.units):
        lexical = np.array(
            [len(wanted & content_terms(u)) / len(wanted) if wanted else 0.0 for u in units], np.float32
        )
        semantic = vectors[n] @ question_vector if vectors is not None and len(units) else 0.0
        # Headings say nothing the source label does not; they are never chosen on their own.
        headings = np.array([-10.0 if is_heading(u) else 0.0 for u in units], np.float32)
        rows = np.array([NAMED_ROW if _names_row(row_terms, u) else 0.0 for u in units], np.float32)
        out.append(semantic + 0.3 * lexical + headings + rows)
    return out


def _names_row(terms: frozenset[str], unit: str) -> bool:
    label = row_label(unit) if terms else None
    return label is not None and label_match(terms, label) is not None


def is_heading(unit: str) -> bool:
    """A heading or label line: a few words without a sentence's closing punctuation."""
    text = unit.strip()
    if _TABLE_CELL in text or LIST_ITEM.match(text) or numbers_in(text):
        return False
    return len(text.split()) <= 6 and not text.endswith((".", ":", "!"))


def _blocks(units: list[str]) -> list[list[int]]:
    """Units that belong together: a list with the sentence that leads into it ("These are not
    covered:"), shown whole so an item never loses what it is a list of; otherwise one unit each."""
    blocks: list[list[int]] = []
    for i, unit in enumerate(units):
        if LIST_ITEM.match(unit) and blocks and (i - 1) in blocks[-1]:
            previous = blocks[-1]
            if LIST_ITEM.match(units[i - 1]) or len(previous) == 1:
                previous.append(i)
                continue
        blocks.append([i])
    return blocks


def _table_header(units: list[str], i: int) -> int | None:
    """A table row's header row (the passage's first row with cells), if it is another row."""
    if _TABLE_CELL not in units[i]:
        return None
    header = next((j for j, u in enumerate(units) if _TABLE_CELL in u), None)
    return header if header != i else None


def select_context(
    scores: list[np.ndarray],
    evidence: Evidence,
    *,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[str]:
    """Each passage's text as the model will read it: its best sentences (a list with its lead-in,
    a table row with its header) in their original order, ``…`` where sentences were left out, all
    passages together within ``budget_tokens``. Every passage keeps at least its best sentence."""
    chosen: list[set[int]] = [set() for _ in evidence.units]
    costs = [[count_tokens(u) for u in units] for units in evidence.units]
    used = 0

    def take(n: int, members: list[int], *, force: bool = False) -> bool:
        nonlocal used
        wanted = [j for j in members if j not in chosen[n]]
        for j in list(wanted):
            header = _table_header(evidence.units[n], j)
            if header is not None and header not in chosen[n] and header not in wanted:
                wanted.insert(0, header)
        cost = sum(costs[n][j] for j in wanted)
        if not force and used + cost > budget_tokens:
            return False
        chosen[n].update(wanted)
        used += cost
        return True

    candidates: list[tuple[float, int, list[int]]] = []
    for n, units in enumerate(evidence.units):
        if not units:
            continue
        row = np.atleast_1d(scores[n])
        best = int(np.argmax(row))
        lead = next((b[0] for b in _blocks(units) if best in b and b[0] != best), None)
        take(n, [best] if lead is None else [lead, best], force=True)
        for block in _blocks(units):
            candidates.append((max(float(row[j]) for j in block), n, block))
            if len(block) > 1:  # a list too long to show whole still offers its best items
                candidates += [(float(row[j]), n, [block[0], j]) for j in block[1:]]
    for score, n, members in sorted(candidates, key=lambda c: -c[0]):
        if score >= MIN_RELEVANCE:  # unrelated sentences are not worth their reading time
            take(n, members)
    out = []
    for n, units in enumerate(evidence.units):
        parts: list[str] = []
        last = -1
        for i in sorted(chosen[n]):
            if parts and i != last + 1:
                parts.append(GAP.strip())
            parts.append(units[i])
            last = i
        if last != -1 and last < len(units) - 1:
            parts.append(GAP.strip())
        text = _join(parts)
        # The scale a passage's table states ("million") is not repeated on its rows.
        scales = table_scales([evidence.hits[n]]) if any(row_label(units[i]) for i in chosen[n]) else []
        out.append(f"(Table figures in {scales[0]}s.)\n{text}" if scales else text)
    return out


def _join(parts: list[str]) -> str:
    """List items and table rows stay on their own lines; sentences run on."""
    text = ""
    for part in parts:
        line_break = (
            _TABLE_CELL in part or LIST_ITEM.match(part) or (text and _TABLE_CELL in text.rsplit("\n", 1)[-1])
        )
        text = f"{text}{chr(10) if line_break else ' '}{part}" if text else part
    return text


def group_passages(hits: list[Hit], limit: int) -> list[Hit]:
    """Passages of the same document page (or, without pages, the same section) merged into one
    source, in rank order, at most ``limit``: a page is cited once, not as [1][2][3], and the model
    reads its sentences once even where chunks overlap."""
    groups: dict[tuple[str, object], list[Hit]] = {}
    for hit in hits:
        key = (hit.document_id, hit.page if hit.page is not None else hit.heading_path)
        if key not in groups and len(groups) == limit:
            continue
        groups.setdefault(key, []).append(hit)
    return [_merge(group) for group in groups.values()]


def _merge(group: list[Hit]) -> Hit:
    if len(group) == 1:
        return group[0]
    ordered = sorted(group, key=lambda h: h.char_start)
    units: list[str] = []
    for hit in ordered:
        units += [u for u in passage_units(hit.text) if u not in units]
    common: tuple[str, ...] = ()
    for level in zip(*(h.heading_path for h in group), strict=False):
        if len(set(level)) > 1:
            break
        common += (level[0],)

    def best(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return max(present) if present else None

    return replace(
        group[0],
        text="\n".join(units),
        heading_path=common,
        char_start=min(h.char_start for h in group),
        char_end=max(h.char_end for h in group),
        dense_score=best([h.dense_score for h in group]),
        sparse_score=best([h.sparse_score for h in group]),
        fused_score=best([h.fused_score for h in group]),
        rerank_score=best([h.rerank_score for h in group]),
    )
