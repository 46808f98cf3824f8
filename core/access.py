"""Access rules: who may read a knowledge base and a document, from the principal's groups alone.

Pure functions over ``Principal`` and group lists, so retrieval (before ranking), the services
(history read back, downloads) and any backend's filter all decide the same way.
"""

from __future__ import annotations

from core.types import EVERYONE, Principal


def can_read_kb(read_groups: list[str] | tuple[str, ...], principal: Principal | None) -> bool:
    """A knowledge base is readable by admins, by everyone when it lists ``EVERYONE``, and otherwise
    by members of one of its read groups. An empty list means admins only (fail closed)."""
    if principal is None:
        return False
    if principal.admin or EVERYONE in read_groups:
        return True
    return not principal.groups.isdisjoint(read_groups)


def can_read(doc_groups: list[str] | tuple[str, ...], principal: Principal | None) -> bool:
    """A document with no groups is readable by everyone who can read its knowledge base;
    otherwise the principal needs one of its groups. No principal reads nothing (fail closed)."""
    if principal is None:
        return False
    if principal.admin or not doc_groups:
        return True
    return not principal.groups.isdisjoint(doc_groups)
