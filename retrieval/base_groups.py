"""Which searched bases hybrid retrieval may fuse together: those of one embedding model and one
calibrated fusion prior (``retrieval.hybrid.BaseGroup``)."""

from __future__ import annotations

from core.protocols import BaseEmbedders
from retrieval.candidates import SearchStores
from retrieval.hybrid import BaseGroup, Grouping


def base_grouping(stores: SearchStores, embedders: BaseEmbedders) -> Grouping:
    """Groups the named bases by (embedding model, calibrated dense prior), in the order named."""

    def grouping(kbs: tuple[str, ...]) -> list[BaseGroup]:
        groups: dict[tuple[str, float | None], list[str]] = {}
        for kb in stores.bases(kbs):
            groups.setdefault((embedders.key_for(kb), kb.dense_prior), []).append(kb.name)
        return [
            BaseGroup(tuple(names), prior, embedders.embedder(key)) for (key, prior), names in groups.items()
        ]

    return grouping
