"""Question routing by document facts: unit tests over a fake fact source, then the real SQL source
behind the ingestion pipeline (SQLite and PostgreSQL), permissions included."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import pytest

from app.services.documents import DocumentService
from core.db import Database, DocumentRow, utcnow
from core.facts import apply_admin_facts
from core.settings import Settings
from core.stores.blob import LocalBlobStore
from core.types import Hit, Principal
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline
from retrieval.candidates import SearchStores
from retrieval.dense import DenseRetriever
from retrieval.fact_source import DocFacts, SqlFactSource
from retrieval.filters import SearchFilters
from retrieval.hybrid import HybridRetriever
from retrieval.question_facts import forms_in, org_mentions, periods_in, wants_latest
from retrieval.routing import PERIOD_BOOST, QueryRouter, Route
from retrieval.sparse import SparseRetriever

ADMIN = Principal("admin", admin=True)
FILTERS = SearchFilters(kbs=("filings",))


def filing(doc_id: str, company: str, ticker: str, year: int, period: str, end: str) -> DocFacts:
    facts = {
        "company": company,
        "tickers": [ticker],
        "form": "10-K" if period == "FY" else "10-Q",
        "fiscal_year": year,
        "fiscal_period": period,
        "period_end": end,
    }
    return DocFacts(doc_id, "filings", facts)


FILINGS = [
    filing("aapl-q3-23", "Apple Inc.", "AAPL", 2023, "Q3", "2023-07-01"),
    filing("aapl-q2-23", "Apple Inc.", "AAPL", 2023, "Q2", "2023-04-01"),
    filing("aapl-fy-23", "Apple Inc.", "AAPL", 2023, "FY", "2023-09-30"),
    filing("nvda-q3-24", "NVIDIA CORPORATION", "NVDA", 2024, "Q3", "2023-10-29"),
    filing("nvda-q3-23", "NVIDIA CORPORATION", "NVDA", 2023, "Q3", "2022-10-30"),
    filing("nvda-q2-24", "NVIDIA CORPORATION", "NVDA", 2024, "Q2", "2023-07-30"),
    filing("msft-q1-24", "MICROSOFT CORPORATION", "MSFT", 2024, "Q1", "2023-09-30"),
    filing("tgt-fy-23", "Target Corporation", "TGT", 2023, "FY", "2024-02-03"),
]


class FakeSource:
    """Facts held in a list; ``text`` stands for what the documents' chunks say."""

    def __init__(self, docs: list[DocFacts], text: str = "") -> None:
        self.docs = docs
        self.text = text

    def readable(self, filters: SearchFilters, principal: Principal) -> list[DocFacts]:
        return [d for d in self.docs if filters.document_ids is None or d.doc_id in filters.document_ids]

    def mentions(self, term: str, doc_ids: Collection[str]) -> bool:
        return term.lower() in self.text.lower()


def route(question: str, docs: list[DocFacts] = FILINGS, text: str = "") -> Route:
    return QueryRouter(FakeSource(docs, text)).route(question, FILTERS, ADMIN)


def boosted(r: Route) -> set[str]:
    return {d for d, factor in r.boosts.items() if factor >= 1 + PERIOD_BOOST}


def test_company_names_aliases_and_tickers_restrict_to_that_company() -> None:
    for question in (
        "What was Apple's gross margin?",
        "What was the gross margin of Apple Inc.?",
        "AAPL gross margin",
        "how did apple do last year",  # all lower case: the user doesn't capitalise at all
    ):
        r = route(question)
        assert r.filters.document_ids == {"aapl-q3-23", "aapl-q2-23", "aapl-fy-23"}, question
        assert r.companies == ("Apple Inc.",)
    both = route("Compare Nvidia and Microsoft's R&D spending")
    assert both.filters.document_ids == {"nvda-q3-24", "nvda-q3-23", "nvda-q2-24", "msft-q1-24"}
    # A common word written in lower case in a normally written question is not the company.
    assert route("What is the target leverage ratio of Apple?").filters.document_ids == {
        "aapl-q3-23",
        "aapl-q2-23",
        "aapl-fy-23",
    }


def test_no_match_no_restriction() -> None:
    r = route("What are the main risk factors?")
    assert r.filters == FILTERS and r.boosts == {} and r.missing_entity is None
    assert r.rank([], 5) == []


def test_periods_boost_fiscal_and_calendar_readings() -> None:
    # "Q3 FY24" is fiscal: NVIDIA's quarter ended October 2023 only.
    assert boosted(route("NVIDIA revenue in Q3 FY24")) == {"nvda-q3-24"}
    # "Q3 2023" without "fiscal": NVIDIA's fiscal Q3 2023 and the quarter of calendar Q3 2023.
    assert boosted(route("NVIDIA revenue in Q3 2023")) == {"nvda-q3-24", "nvda-q3-23"}
    assert boosted(route("NVIDIA revenue in the third quarter of fiscal 2023")) == {"nvda-q3-23"}
    assert boosted(route("Apple's FY2023 capital expenditure")) == {"aapl-fy-23"}  # the annual filing
    assert boosted(route("Target's fiscal 2023 annual report")) == set()  # one document: nothing to prefer
    assert route("Apple's results in Q3 2023").periods == ("Q3 2023",)


def test_latest_means_the_newest_period_per_company() -> None:
    assert boosted(route("What was Apple's gross margin in the latest 10-Q?")) == {"aapl-q3-23"}
    assert boosted(route("Apple's most recent filing")) == {"aapl-fy-23"}
    assert boosted(route("gross margin last quarter of NVIDIA and Microsoft")) == {"nvda-q3-24", "msft-q1-24"}


def test_rank_applies_boosts_and_widens_the_pool() -> None:
    r = route("NVIDIA revenue in Q3 FY24")
    assert r.candidate_k(10) == 40  # "revenue" may name a table row: the pool of table_rows.POOL
    assert route("NVIDIA in Q3 FY24").candidate_k(10) == 30

    def hit(doc_id: str, score: float) -> Hit:
        return Hit(f"c-{doc_id}", doc_id, "filings", "t", "s", "t", 1, (), 0, 1, fused_score=score)

    ranked = r.rank([hit("nvda-q3-23", 0.9), hit("nvda-q3-24", 0.5), hit("nvda-q3-23", 0.3)], 2)
    assert [h.document_id for h in ranked] == ["nvda-q3-24", "nvda-q3-23"]
    assert 0.5 * (1 + PERIOD_BOOST) > 0.9


def test_missing_company_is_signalled_only_when_sure() -> None:
    held = [d for d in FILINGS if d.facts["tickers"] != ["NVDA"]]
    assert route("What was NVIDIA's gross margin?", held).missing_entity == "NVIDIA"
    assert route("Were risks reported by NVIDIA in its latest 10-Q?", held).missing_entity == "NVIDIA"
    # Named somewhere in the documents (a customer, a product line): not "missing", search as usual.
    assert route("What was NVIDIA's share of revenue?", held, text="sales to NVIDIA").missing_entity is None
    assert route("How did Azure's revenue grow?", held, text="Azure revenue grew").missing_entity is None
    # A base whose documents do not all carry company facts cannot tell.
    policy = DocFacts("policy", "filings", {})
    assert route("What was NVIDIA's gross margin?", [*held, policy]).missing_entity is None


def test_products_by_id_or_a_name_word_no_other_product_has() -> None:
    products = [
        DocFacts("pool", "shop", {"product_id": "B01", "product_name": "Intex family pool"}),
        DocFacts("dominoes", "shop", {"product_id": "B02", "product_name": "Mexican Train dominoes"}),
        DocFacts("loom", "shop", {"product_id": "B03", "product_name": "Rainbow Loom crafting kit"}),
        DocFacts("lego", "shop", {"product_id": "B04", "product_name": "LEGO Mindstorms robot kit"}),
        DocFacts("returns", "shop", {}),
    ]
    assert route("How many dominos are included?", products).filters.document_ids == {"dominoes", "returns"}
    assert route("Is B01 16 gauge vinyl?", products).products == ("B01",)
    assert route("How many bands are in the kit?", products).filters == FILTERS  # two kits: ambiguous


def test_question_wording_parsers() -> None:
    assert [(p.year, p.period, p.fiscal) for p in periods_in("Q3 FY23 vs 3Q22 and fiscal 2021")] == [
        (2023, "Q3", True),
        (2022, "Q3", False),
        (2021, None, True),
    ]
    assert [(p.year, p.period) for p in periods_in("贵州茅台2023年第三季度和2022年年度报告")] == [
        (2023, "Q3"),
        (2022, "FY"),
    ]
    assert (
        wants_latest("the latest 10-Q") and wants_latest("最新一期的营收") and not wants_latest("late fees")
    )
    assert forms_in("in its annual report") == ["10-K"]
    assert org_mentions("Did Tesla report record deliveries? What is NVIDIA's margin?") == ["NVIDIA", "Tesla"]
    assert org_mentions("What is the company's margin? What did the Board approve?") == []


@pytest.fixture
def filings_kb(settings: Settings, db: Database, tmp_path: Path) -> tuple[IngestionPipeline, Database]:
    pipeline = IngestionPipeline(
        settings, db, HashingEmbedder(), StructureAwareChunker(lambda t: [len(x.split()) * 2 for x in t])
    )
    pipeline.catalog.create("filings", "finance")
    folder = tmp_path / "filings"
    folder.mkdir()
    cover = (
        "FORM 10-Q\n\nFor the quarterly period ended {end}\n\n{name}\n\n"
        "(Exact name of registrant as specified in its charter)\n\n"
        "Title of each class Trading Symbol(s) Name of each exchange on which registered\n"
        "Common Stock {ticker} The Nasdaq Stock Market LLC\n\n"
        "Revenue for the three months ended {end} was {revenue}. Sales to Contoso grew."
    )
    (folder / "acme.txt").write_text(
        cover.format(end="June 30, 2024", name="Acme Corp", ticker="ACME", revenue="$1,234 million")
    )
    (folder / "globex.txt").write_text(
        cover.format(end="June 30, 2024", name="Globex Inc.", ticker="GBX", revenue="$9,876 million")
    )
    pipeline.ingest("filings", [folder / "acme.txt"], groups=["finance"])
    pipeline.ingest("filings", [folder / "globex.txt"], groups=["board"])
    return pipeline, db


def test_sql_source_routes_only_by_documents_the_asker_may_read(
    filings_kb: tuple[IngestionPipeline, Database],
) -> None:
    pipeline, db = filings_kb
    router = QueryRouter(SqlFactSource(db))
    finance = Principal("ann", frozenset({"finance"}))
    admin_route = router.route("What was Globex's revenue?", FILTERS, ADMIN)
    assert admin_route.companies == ("Globex Inc.",) and len(admin_route.filters.document_ids or ()) == 1
    # Ann cannot read Globex's filing: for her the base holds no Globex documents at all, exactly as
    # if it did not exist (no restriction to a document she cannot see, no hint that it exists).
    hers = router.route("What was Globex's revenue?", FILTERS, finance)
    assert hers.companies == () and hers.missing_entity == "Globex"
    assert router.route("What was Acme's revenue?", FILTERS, finance).companies == ("Acme Corp",)
    # Contoso is named in Acme's text, so it is not "missing"; nobody reads nothing.
    assert router.route("What are Contoso's sales?", FILTERS, finance).missing_entity is None
    assert router.route("What was Acme's revenue?", FILTERS, None) == Route(FILTERS)


def test_routed_search_returns_only_the_named_company_and_sees_fact_edits(
    filings_kb: tuple[IngestionPipeline, Database],
) -> None:
    pipeline, db = filings_kb
    stores = SearchStores(db, pipeline.backends)
    retriever = HybridRetriever(DenseRetriever(stores, pipeline.embedder), SparseRetriever(stores))
    router = QueryRouter(SqlFactSource(db))
    r = router.route("What was ACME revenue in the quarter?", FILTERS, ADMIN)
    hits = r.rank(retriever.search("revenue", k=r.candidate_k(5), filters=r.filters, principal=ADMIN), 5)
    assert hits and {h.metadata["company"] for h in hits} == {"Acme Corp"}
    # An admin adds an alias: the router sees it at once (its cache follows updated_at).
    acme = next(iter(r.filters.document_ids or ()))
    with db.session() as session:
        row = session.get(DocumentRow, acme)
        row.meta, row.updated_at = apply_admin_facts(row.meta, {"aliases": ["Roadrunner Supplies"]}), utcnow()
    renamed = router.route("Roadrunner Supplies revenue", FILTERS, ADMIN)
    assert renamed.filters.document_ids == {acme}
    assert replace(renamed, periods=()).companies == ("Acme Corp",)


def test_facts_are_usable_as_metadata_filters(
    filings_kb: tuple[IngestionPipeline, Database], tmp_path: Path
) -> None:
    pipeline, db = filings_kb
    stores = SearchStores(db, pipeline.backends)
    retriever = HybridRetriever(DenseRetriever(stores, pipeline.embedder), SparseRetriever(stores))

    def companies(**metadata: object) -> set[str]:
        filters = SearchFilters(kbs=("filings",), metadata=dict(metadata))
        return {
            h.metadata["company"] for h in retriever.search("revenue", k=10, filters=filters, principal=ADMIN)
        }

    assert companies(tickers="GBX") == {"Globex Inc."}  # a list fact matches one of its values
    assert companies(form="10-Q", period_end="2024-06-30") == {"Acme Corp", "Globex Inc."}
    assert companies(company="Acme Corp") == {"Acme Corp"}
    assert companies(tickers="NOPE") == set()
    # An admin's fact edit reaches the store's filter fields at once, and survives a re-ingest.
    acme = next(d for d, facts in _facts(db).items() if facts.get("company") == "Acme Corp")
    DocumentService(db, pipeline.backends, LocalBlobStore(tmp_path / "blobs")).set_facts(
        acme, {"tickers": ["ACME", "RRS"]}
    )
    assert companies(tickers="RRS") == {"Acme Corp"}
    source = tmp_path / "filings" / "acme.txt"
    source.write_text(source.read_text() + "\nGross margin was 40 %.")
    pipeline.ingest("filings", [source], groups=["finance"])
    assert companies(tickers="RRS") == {"Acme Corp"}


def _facts(db: Database) -> dict[str, dict[str, object]]:
    with db.session() as session:
        return {row.id: dict(row.meta or {}) for row in session.query(DocumentRow)}


def test_table_rows_are_lifted_only_inside_one_company() -> None:
    # "Revenue" is a row of every company's statements: named rows count once a company is named,
    # or when the base holds only one company's filings.
    assert route("What was Apple's revenue in Q3 2023?").table_terms == {"revenu"}
    assert route("What was the revenue in Q3 2023?").table_terms == frozenset()
    apple = [d for d in FILINGS if d.facts["tickers"] == ["AAPL"]]
    assert route("What was the revenue in Q3 2023?", apple).table_terms == {"revenu"}
