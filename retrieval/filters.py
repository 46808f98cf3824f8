"""Which documents a search may touch (core.access rules, then tags and metadata), before any ranking."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.access import can_read
from core.stores.base import meta_matches
from core.types import Principal


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on a search. Everything here is applied before scoring.

    ``kbs`` names the knowledge bases to search (at least one); ``tags`` matches documents carrying
    any of the tags; ``metadata`` requires each key of the document's metadata to equal the value,
    or to contain it when the document holds a list (e.g. ``{"asin": "B0001"}``, ``{"company":
    "Apple Inc.", "fiscal_year": 2023}``, ``{"tickers": "AAPL"}``); ``document_ids`` limits to those ids.
    """

    kbs: tuple[str, ...] = ()
    document_ids: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class DocAccess:
    """What deciding whether a search may touch a document needs: its id, access groups, scenario
    tags and metadata (facts included)."""

    id: str
    groups: list[str]
    tags: list[str]
    meta: dict[str, Any]

    def visible(self, principal: Principal, filters: SearchFilters) -> bool:
        """Readable by ``principal`` and passing ``filters``."""
        return can_read(self.groups, principal) and matches(self.id, self.tags, self.meta, filters)


def matches(doc_id: str, tags: list[str], meta: dict[str, Any], filters: SearchFilters) -> bool:
    if filters.document_ids is not None and doc_id not in filters.document_ids:
        return False
    if filters.tags is not None and filters.tags.isdisjoint(tags):
        return False
    return all(meta_matches(meta.get(key), value) for key, value in filters.metadata.items())
