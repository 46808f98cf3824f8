"""Sentences, citation markers and numbers in answer text, for whole answers and for streamed ones."""

from __future__ import annotations

import re
from dataclasses import dataclass

CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# A sentence ends at . ! ? followed by space and a capital, digit, quote, bracket or list marker;
# Chinese 。！？ and the semicolon ； (which joins what English writes as sentences) end one without
# a space (after a closing quote that follows them); line breaks always do.
_SENTENCE = re.compile(
    r"(?<=[.!?])[ \t]+(?=[A-Z0-9\"'(\[*\-•])|(?<=[。！？；])(?![”’」』）])|(?<=[。！？；][”’」』）])|\n+"
)
_LEADING_CITES = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")
# Text that may still grow into citation markers ("[", "[1", "[1][2, ") once more tokens arrive.
_CITE_PREFIX = re.compile(r"^(?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)*(?:\[[\d,; ]*)?$")
# A list item: "- x", "* x", "• x", "1. x", "2) x".
LIST_ITEM = re.compile(r"^\s*(?:[-*•▪◦]|\d+[.)])\s")
_NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,]*(?:\.\d+)?%?")


def normalise_number(token: str) -> str:
    return token.replace("$", "").replace(",", "").rstrip("%").lstrip("+")


def numbers_in(text: str) -> set[str]:
    """Numbers in ``text``, normalised: "$1,200.50" → "1200.5", "14%" → "14"."""
    out = set()
    for match in _NUMBER.findall(text):
        value = normalise_number(match)
        if value.strip("-"):
            out.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return out


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """The source numbers a sentence cites, in order of first mention."""
    found: list[int] = []
    for group in CITE.findall(sentence):
        found += [int(x) for x in re.split(r"\s*[,;]\s*", group)]
    return tuple(dict.fromkeys(found))


def strip_phantoms(text: str, n_sources: int) -> tuple[str, int]:
    """Remove citations to sources that do not exist; returns (text, how many were removed)."""
    removed = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal removed
        nums = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        keep = [n for n in nums if 1 <= n <= n_sources]
        removed += len(nums) - len(keep)
        return "".join(f"[{n}]" for n in keep)

    cleaned = CITE.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned), removed


_CITING_WORDS = re.compile(r"\b(?:sources?|see|and|cited|references?|from)\b", re.I)


def is_title_case(text: str) -> bool:
    """A title or heading line ("PerksPlus Health and Wellness Reimbursement Program for"): no
    closing punctuation and most of its longer words capitalised."""
    stripped = text.strip()
    if not stripped or stripped[-1] in ".!?":
        return False
    words = [w for w in re.findall(r"[^\W\d_]+", stripped)[1:] if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) >= 0.5


def is_bare_citation(text: str) -> bool:
    """A stray "[1], [2]" or "Sources: [1] and [2]." with no words of its own."""
    return not _CITING_WORDS.sub("", CITE.sub("", text)).strip(" .,;:()")


@dataclass(frozen=True)
class Piece:
    """A finished sentence and the separator that preceded it in the text (space or line break)."""

    text: str
    separator: str = " "


def _pieces(text: str) -> list[Piece]:
    """Sentences of ``text`` with their separators; citation markers written after the full stop
    ("… windows. [1] [2]") stay on the sentence they follow."""
    out: list[Piece] = []
    pos = 0
    separator: str | None = None
    for match in [*_SENTENCE.finditer(text), None]:
        end = match.start() if match else len(text)
        part = text[pos:end].strip()
        if part:
            leading = _LEADING_CITES.match(part)
            if leading and out:
                out[-1] = Piece(f"{out[-1].text} {leading.group(1).strip()}", out[-1].separator)
                part = part[leading.end() :].strip()
            if part:
                out.append(Piece(part, " " if separator is None else separator))
                separator = None
        if match:
            gap = match.group(0)
            # a line break wins over spaces; a CJK full stop needs no separator at all
            if "\n" in gap:
                separator = "\n"
            elif separator is None:
                separator = " " if gap else ""
            pos = match.end()
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of a whole text."""
    return [p.text for p in _pieces(text)]


class SentenceSplitter:
    """Cuts streamed text into sentences as soon as each is certainly complete: the next sentence
    has started and is not a citation marker that still belongs to the previous one."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, delta: str) -> list[Piece]:
        """Add streamed text; return the sentences it completed."""
        self._buffer += delta
        pieces = _pieces(self._buffer)
        if len(pieces) < 2:
            return []
        keep = 1
        # The last piece may still be growing into "[1]" markers of the one before it.
        if _CITE_PREFIX.match(pieces[-1].text):
            keep = 2
        done = pieces[:-keep] if len(pieces) > keep else []
        if not done:
            return []
        consumed = self._consumed(done)
        self._buffer = self._buffer[consumed:]
        return done

    def _consumed(self, done: list[Piece]) -> int:
        """Buffer offset just after the last of ``done`` (its text, markers and trailing spaces)."""
        pos = 0
        for piece in done:
            for token in piece.text.split():
                pos = self._buffer.index(token, pos) + len(token)
        return pos

    def flush(self) -> list[Piece]:
        """The sentences still held once the stream has ended."""
        pieces, self._buffer = _pieces(self._buffer), ""
        return pieces
