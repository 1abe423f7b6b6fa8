"""Graph dense backend: faiss `IndexHNSWFlat` (inner product; `IndexHNSWSQ` for float16 storage), with tombstones
for removed vectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from matcher.index.dense.base import ANN, DenseParams, damaged, sq_type
from matcher.index.dense.store import save_npy

if TYPE_CHECKING:
    from matcher.index.dense.store import VectorStore

LABELS_FILE = "labels.npy"


class HNSWANN(ANN):
    """HNSW graph whose nodes are numbered 0..ntotal-1 ("labels"), mapped to ids here.

    HNSW cannot remove vectors, so a removed or replaced vector becomes a tombstone that the
    search skips (faiss `IDSelectorBitmap`); the graph is rebuilt from the store once tombstones
    exceed `rebuild_ratio` of its nodes.
    """

    name = "hnsw"

    def __init__(self, store: VectorStore, params: DenseParams) -> None:
        super().__init__(store, params)
        self._label_ids = np.empty(0, dtype=np.int64)  # graph label -> id, -1 for a tombstone
        self._label_of: dict[int, int] = {}  # live id -> graph label
        self._n_tombstones = 0
        self._bitmap: np.ndarray | None = None

    def build(self) -> None:
        """Rebuild the graph from the store's live vectors (no tombstones)."""
        ids, vecs = self.store.live_float32()
        dim, m, qtype = self.store.dim, self.params.hnsw_m, sq_type(self.params.storage)
        index = (faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT) if qtype is None
                 else faiss.IndexHNSWSQ(dim, qtype, m, faiss.METRIC_INNER_PRODUCT))
        index.hnsw.efConstruction = self.params.ef_construction
        if len(ids):
            index.add(vecs)
        self._label_ids = ids.copy()
        self._label_of = dict(zip(ids.tolist(), range(len(ids))))
        self._n_tombstones = 0
        self._bitmap = None
        self.index = index

    def _tombstone(self, ids: np.ndarray) -> None:
        pop = self._label_of.pop
        labels = np.fromiter((pop(i, -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))
        labels = labels[labels >= 0]
        if len(labels):
            self._label_ids[labels] = -1
            self._n_tombstones += len(labels)
            self._bitmap = None

    def _maybe_rebuild(self) -> None:
        if self._n_tombstones > self.params.rebuild_ratio * self.index.ntotal:
            self.build()

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> None:
        """Tombstone the replaced ids' nodes and add the batch as new nodes."""
        if self.index is None:
            self.build()
            return
        self._tombstone(replaced)
        start = self.index.ntotal
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._label_ids = np.concatenate([self._label_ids, ids])
        self._label_of.update(zip(ids.tolist(), range(start, start + len(ids))))
        self._bitmap = None
        self._maybe_rebuild()

    def remove(self, ids: np.ndarray) -> None:
        """Tombstone the ids' nodes."""
        if self.index is None:
            return
        self._tombstone(ids)
        self._maybe_rebuild()

    def _search_params(self, k: int) -> tuple[faiss.SearchParametersHNSW, faiss.IDSelector | None]:
        """Search parameters skipping tombstones; the selector is returned so the caller keeps it alive."""
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.params.ef_search, k)
        selector = None
        if self._n_tombstones:
            if self._bitmap is None:
                self._bitmap = np.packbits(self._label_ids >= 0, bitorder="little")
            selector = faiss.IDSelectorBitmap(self._bitmap)
            params.sel = selector
        return params, selector

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Graph top-k with beam max(ef_search, k), tombstones skipped, labels mapped to ids."""
        params, _selector = self._search_params(k)
        scores, labels = self.index.search(queries, k, params=params)
        return scores, np.where(labels >= 0, self._label_ids[np.maximum(labels, 0)], -1)

    def save(self, directory: Path) -> None:
        """Write the graph and labels.npy (graph label -> id, -1 for tombstones)."""
        super().save(directory)
        save_npy(directory / LABELS_FILE, self._label_ids)

    def restore(self, directory: Path, index: faiss.Index | None, meta: dict) -> None:
        """Take over a saved graph with its labels, checking both against the store."""
        try:
            labels = np.load(directory / LABELS_FILE, allow_pickle=False).astype(np.int64, copy=False)
        except FileNotFoundError as exc:
            raise damaged(directory, f"missing {LABELS_FILE}") from exc
        except (OSError, ValueError) as exc:
            raise damaged(directory, str(exc)) from exc
        if index is None or index.ntotal != len(labels):
            raise damaged(directory, "hnsw labels do not match the graph")
        live = np.nonzero(labels >= 0)[0]
        if len(live) != len(self.store):
            raise damaged(directory, "hnsw graph and stored vectors disagree")
        if not all(i in self.store for i in labels[live].tolist()):
            raise damaged(directory, "hnsw labels name ids that are not stored")
        self.index = index
        self._label_ids = labels.copy()
        self._label_of = dict(zip(labels[live].tolist(), live.tolist()))
        self._n_tombstones = int(len(labels) - len(live))
