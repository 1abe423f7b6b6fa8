"""Approximate dense backend: faiss `IndexIVFScalarQuantizer` with float16 codes (inner product) trained on the
collection, retrained as it grows.

The inverted lists only propose candidates: every score is computed exactly from the vector store (`DenseIndex`), so
their codes are float16 whatever the storage. They take half the memory and disk of float32 codes (1.2 GB less at
200,000 registrations, mostly the scope items' lists), and propose the same candidates up to a few swaps
at the cut (docs/performance.md, "Compact and memory-mapped vectors")."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from matcher.index.dense.base import ANN, FAISS_BLOCK, DenseParams, add_with_ids

if TYPE_CHECKING:
    from matcher.index.dense.store import VectorStore

# faiss wants at least this many training points per centroid, and uses at most 256.
_MIN_POINTS_PER_CENTROID = 39
_MAX_POINTS_PER_CENTROID = 256
# A float16 store trains on a float32 copy of its sample (a float32 store on its own rows when they are few enough),
# of at most this many bytes: every row of the 201,725 registrations, 349,525 of their 614,823 scope items.
_MAX_TRAIN_COPY_BYTES = 1 << 30
# The index is retrained when the collection has grown this many times past the size it was trained on.
_RETRAIN_GROWTH = 4.0


def _float32_rows(vecs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`vecs[rows]` as float32, gathered a block at a time (no float16 copy of the whole sample beside it)."""
    out = np.empty((len(rows), vecs.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), FAISS_BLOCK):
        out[start : start + FAISS_BLOCK] = vecs[rows[start : start + FAISS_BLOCK]]
    return out


class IVFANN(ANN):
    """Inverted lists over k-means centroids (fixed seed); `nprobe` lists are scanned per query.

    `nlist` defaults to ~4*sqrt(n), capped so that each centroid has at least 39 training points;
    training uses at most 256 points per centroid (from a float16 store, at most 1 GiB of them as float32; a seeded
    sample). The index is retrained from the store when the collection grows 4x past its training size.
    """

    name = "ivf"

    def __init__(self, store: VectorStore, params: DenseParams) -> None:
        super().__init__(store, params)
        self._trained_rows = 0

    @property
    def trained_rows(self) -> int:
        """Collection size at the last training."""
        return self._trained_rows

    def _nlist(self, n: int) -> int:
        nlist = self.params.nlist if self.params.nlist is not None else int(round(4 * math.sqrt(n)))
        cap = n if self.params.nlist is not None else n // _MIN_POINTS_PER_CENTROID
        return int(max(1, min(nlist, max(1, cap))))

    def build(self) -> None:
        """Train a new IVF index on the store and add every live vector (no index while the store is empty)."""
        ids, vecs = self.store.live()
        n = len(ids)
        if n == 0:
            self.index, self._trained_rows = None, 0
            return
        dim, seed = self.store.dim, self.params.seed
        nlist = self._nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        sample = vecs
        max_train = nlist * _MAX_POINTS_PER_CENTROID
        if vecs.dtype != np.float32:
            max_train = min(max_train, max(nlist * _MIN_POINTS_PER_CENTROID, _MAX_TRAIN_COPY_BYTES // (4 * dim)))
        if n > max_train:
            rng = np.random.default_rng(seed)
            sample = _float32_rows(vecs, np.sort(rng.choice(n, size=max_train, replace=False)))
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        del sample
        add_with_ids(index, vecs, ids)
        self._quantizer = quantizer  # keep the Python owner alive as long as the index
        self._trained_rows = n
        self.index = index
        self._apply_nprobe()

    def set_nprobe(self, nprobe: int) -> None:
        """Scan `nprobe` lists per query from now on (capped at the lists there are)."""
        super().set_nprobe(nprobe)
        self._apply_nprobe()

    def _apply_nprobe(self) -> None:
        """Give the faiss index the configured `nprobe`, capped at the lists there are."""
        if self.index is not None:
            ivf = faiss.extract_index_ivf(self.index)
            ivf.nprobe = max(1, min(self.params.nprobe, ivf.nlist))

    def needs_build(self) -> bool:
        """Retrain when untrained or grown past `_RETRAIN_GROWTH` times the rows it was trained on."""
        return self.index is None or len(self.store) > _RETRAIN_GROWTH * self._trained_rows

    def restore(self, directory: Path, index: faiss.Index | None, meta: dict) -> None:
        """Take over a saved IVF index, its training size and the configured `nprobe`."""
        super().restore(directory, index, meta)
        self._trained_rows = int(meta.get("trained_rows", 0))
        self._apply_nprobe()
