"""Exact dense backend: faiss `IndexIDMap2(IndexFlatIP)` (or a float16 `IndexScalarQuantizer`), whose labels are
the ids."""

from __future__ import annotations

import faiss

from matcher.index.dense.base import ANN, add_with_ids, sq_type


class FlatANN(ANN):
    """Exact inner-product search over every live vector; upsert removes the old vector before adding."""

    name = "flat"

    def build(self) -> None:
        """Recreate the flat index from the store."""
        ids, vecs = self.store.live()
        dim, qtype = self.store.dim, sq_type(self.params.storage)
        inner = faiss.IndexFlatIP(dim) if qtype is None else faiss.IndexScalarQuantizer(dim, qtype, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            add_with_ids(index, vecs, ids)
        self.index = index
