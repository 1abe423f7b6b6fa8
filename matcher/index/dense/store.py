"""The vectors of a dense index in numpy (slot rows + id -> slot map), for exact scoring and rebuilds.

The rows are kept as float32, or as float16 (`STORAGE`) to halve the memory of large sides; scores are always
computed in float32. A store read from disk may be memory-mapped (read-only, shared with every process that maps the
same file); it copies itself into memory on its first change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from matcher.index.atomic import atomic_write_with
from matcher.index.positions import PositionLookup

VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"

# The store is compacted when this share of its slots are dead.
_COMPACT_RATIO = 0.25

STORAGE: dict[str, type[np.floating]] = {"float32": np.float32, "float16": np.float16}
"""Vector storage name -> numpy dtype of the stored rows."""

AUTO_STORAGE = "auto"
"""The storage a `DenseIndex` decides by its size when first filled (float16 above its `exact_limit`)."""

_ROWS_PER_PRODUCT = 8192


def stable_products(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(n, m) inner products of `rows` (n, dim) with `queries` (m, dim), summed in float64 and rounded to float32.

    A float32 matrix product sums in an order that depends on its shapes and threads, so one (row, query) pair would
    score differently in a batch than alone (in the last bits). Summed in float64 the order changes the sum by about
    1e-16, which the rounding to float32 removes: a pair gets the same value whatever else is in the product, so
    lists ranked in different batches (an incremental run, Ray's chunks) equal those of one batch. The rows are
    widened a block at a time (memory-mapped rows are read, never copied whole).
    """
    wide = np.asarray(queries, dtype=np.float64).reshape(-1, rows.shape[1]).T
    out = np.empty((len(rows), wide.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), _ROWS_PER_PRODUCT):
        out[start : start + _ROWS_PER_PRODUCT] = np.asarray(rows[start : start + _ROWS_PER_PRODUCT], dtype=np.float64) @ wide
    return out


class ScoreTable:
    """The stable inner products of a block of queries with every stored vector, looked up by id afterwards.

    One matrix product for the block reads each stored vector once instead of gathering each query's candidates'
    vectors again (the cost of ranking thousands of candidates per query).

    Args:
        products: (n_slots, m) from `stable_products` over the store's slots (dead slots are never read).
        slots: the store's id -> slot lookup (`VectorStore.slots`, strict: an id not stored raises KeyError).
    """

    def __init__(self, products: np.ndarray, slots: Callable[[np.ndarray], np.ndarray]) -> None:
        self.products = products
        self._slots = slots

    def score(self, column: int, ids: np.ndarray) -> np.ndarray:
        """(n,) float32 products of query `column` of the block with the vectors of stored ids.

        Raises:
            KeyError: some id is not stored.
        """
        return self.products[self._slots(np.asarray(ids, dtype=np.int64)), column]


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write one array as .npy, atomically, streamed into the file."""
    atomic_write_with(path, lambda fh: np.save(fh, array, allow_pickle=False))


class VectorStore:
    """Vectors keyed by int64 ids, in insertion order; a replaced id keeps its slot, a removed one leaves a dead slot.

    Args:
        dim: vector dimension.
        storage: "float32" or "float16" (`STORAGE`).
    """

    def __init__(self, dim: int, storage: str = "float32") -> None:
        self.dim = dim
        self.dtype = STORAGE[storage]
        # rows [0, _n_slots) of _vecs; dead slots have id -1
        self._vecs = np.empty((0, dim), dtype=self.dtype)
        self._slot_ids = np.empty(0, dtype=np.int64)
        self._n_slots = 0
        self._slot_of: dict[int, int] = {}
        self._positions = PositionLookup()

    @classmethod
    def from_arrays(cls, ids: np.ndarray, vectors: np.ndarray, storage: str = "float32") -> VectorStore:
        """A store holding exactly these rows (as written by `save`; a read-only memory map is used as it is).

        Args:
            ids: (n,) int64 distinct ids.
            vectors: (n, dim) vectors of the storage's dtype.
            storage: "float32" or "float16".

        Returns:
            The store.
        """
        store = cls(vectors.shape[1], storage)
        store._vecs = vectors if isinstance(vectors, np.memmap) else np.ascontiguousarray(vectors, dtype=store.dtype)
        store._slot_ids = ids.copy()
        store._n_slots = len(ids)
        store._slot_of = dict(zip(ids.tolist(), range(len(ids))))
        store._positions.changed()
        return store

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def mapped(self) -> bool:
        """Whether the rows are a read-only memory map of a saved file (until the first change)."""
        return isinstance(self._vecs, np.memmap)

    def own(self) -> None:
        """Copy memory-mapped rows into memory, before a change."""
        if self.mapped:
            self._vecs = np.array(self._vecs)

    def __contains__(self, id_: int) -> bool:
        return id_ in self._slot_of

    @property
    def ids(self) -> np.ndarray:
        """Live ids, in storage order."""
        ids = self._slot_ids[: self._n_slots]
        return ids[ids >= 0].copy()

    def slots(self, ids: np.ndarray) -> np.ndarray:
        """Slot of each id, -1 for ids not stored."""
        return self._positions.find(ids, lambda: self._slot_ids[: self._n_slots])

    def _slots_strict(self, ids: np.ndarray) -> np.ndarray:
        slots = self.slots(ids)
        if (slots < 0).any():
            missing = ids[slots < 0][:10].tolist()
            raise KeyError(f"ids not in the dense index: {missing}")
        return slots

    def _ensure_capacity(self, n: int) -> None:
        if n <= self._vecs.shape[0]:
            return
        cap = max(n, int(self._vecs.shape[0] * 1.5) + 16)
        vecs = np.empty((cap, self.dim), dtype=self.dtype)
        vecs[: self._n_slots] = self._vecs[: self._n_slots]
        self._vecs = vecs
        slot_ids = np.full(cap, -1, dtype=np.int64)
        slot_ids[: self._n_slots] = self._slot_ids[: self._n_slots]
        self._slot_ids = slot_ids

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, *, handed_over: bool = False) -> np.ndarray:
        """Overwrite the vectors of stored ids in place and append the others.

        Args:
            ids: (n,) distinct int64 ids.
            vectors: (n, dim) float32 vectors (rounded to float16 by a float16 store).
            handed_over: the caller no longer uses `vectors`: an empty store keeps them as its rows instead of a copy
                (a build's largest array, the scope items' vectors, is then held once).

        Returns:
            The ids that were already stored (their old vectors are gone).
        """
        self.own()
        if handed_over and self._n_slots == 0 and vectors.dtype == self.dtype and vectors.flags.c_contiguous:
            self._vecs, self._slot_ids = vectors, ids.astype(np.int64, copy=True)
            self._n_slots = len(ids)
            self._slot_of = dict(zip(ids.tolist(), range(len(ids))))
            self._positions.changed()
            return ids[:0]
        slots = self.slots(ids)
        exists = slots >= 0
        if exists.any():  # boolean selections copy: taken only when some ids are stored already
            self._vecs[slots[exists]] = vectors[exists]
        n_new = int((~exists).sum())
        if n_new:
            fresh_ids, fresh = (ids, vectors) if n_new == len(ids) else (ids[~exists], vectors[~exists])
            self._ensure_capacity(self._n_slots + n_new)
            end = self._n_slots + n_new
            self._vecs[self._n_slots : end] = fresh
            self._slot_ids[self._n_slots : end] = fresh_ids
            self._slot_of.update(zip(fresh_ids.tolist(), range(self._n_slots, end)))
            self._n_slots = end
            self._positions.changed()
        return ids[exists]

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Mark ids dead; ids not stored are ignored (call `maybe_compact` once the backend has followed).

        Args:
            ids: (n,) distinct int64 ids.

        Returns:
            The ids that were stored.
        """
        slots = self.slots(ids)
        found = slots >= 0
        ids, slots = ids[found], slots[found]
        for i in ids.tolist():
            del self._slot_of[i]
        self._slot_ids[slots] = -1
        self._positions.changed()
        return ids

    def _compact(self) -> None:
        n = self._n_slots
        live = self._slot_ids[:n] >= 0
        if live.all():
            return
        self._vecs = np.ascontiguousarray(self._vecs[:n][live])
        self._slot_ids = self._slot_ids[:n][live].copy()
        self._n_slots = len(self._slot_ids)
        self._slot_of = dict(zip(self._slot_ids.tolist(), range(self._n_slots)))
        self._positions.changed()

    def maybe_compact(self) -> None:
        """Drop dead slots once they are a large share of the store."""
        dead = self._n_slots - len(self)
        if dead > 0 and dead >= _COMPACT_RATIO * self._n_slots:
            self._compact()

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """The live (ids, vectors) in storage order, as stored (compacts the store; the arrays are views of it)."""
        self._compact()
        return self._slot_ids[: self._n_slots], self._vecs[: self._n_slots]

    def live_float32(self) -> tuple[np.ndarray, np.ndarray]:
        """`live` with the vectors as float32 (what faiss takes; a copy only for a float16 store)."""
        ids, vecs = self.live()
        return ids, np.ascontiguousarray(vecs, dtype=np.float32)

    def score(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner products (in float32) of one (dim,) query with the vectors of stored ids.

        Raises:
            KeyError: some id is not stored.
        """
        return (self._vecs[self._slots_strict(ids)].astype(np.float32, copy=False) @ query).astype(np.float32, copy=False)

    def score_table(self, queries: np.ndarray) -> ScoreTable:
        """The stable products of (m, dim) queries with every stored vector (`ScoreTable`)."""
        return ScoreTable(stable_products(self._vecs[: self._n_slots], queries), self._slots_strict)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """A (n, dim) float32 copy of the vectors of stored ids.

        Raises:
            KeyError: some id is not stored.
        """
        return self._vecs[self._slots_strict(ids)].astype(np.float32)

    def save(self, directory: Path) -> None:
        """Write the live vectors and ids (vectors.npy, ids.npy)."""
        ids, vecs = self.live()
        save_npy(directory / VECTORS_FILE, vecs)
        save_npy(directory / IDS_FILE, ids)
