"""Exact dense backend: faiss `IndexIDMap2(IndexFlatIP)`, whose labels are the ids."""

from __future__ import annotations

import faiss

from matcher.index.dense.base import ANN


class FlatANN(ANN):
    """Exact inner-product search over every live vector; upsert removes the old vector before adding."""

    name = "flat"

    def build(self) -> None:
        """Recreate the flat index from the store."""
        ids, vecs = self.store.live()
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.store.dim))
        if len(ids):
            index.add_with_ids(vecs, ids)
        self.index = index
