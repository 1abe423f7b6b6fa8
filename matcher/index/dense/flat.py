"""Exact dense backend: faiss `IndexIDMap2(IndexFlatIP)`, whose labels are the ids."""

from __future__ import annotations

import faiss
import numpy as np

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

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> None:
        """Remove the replaced ids' old vectors, then add the batch."""
        if self.index is None:
            self.build()
            return
        if len(replaced):
            self.index.remove_ids(replaced)
        self.index.add_with_ids(vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k."""
        return self.index.search(queries, k)
