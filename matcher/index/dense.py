"""Dense vector index over int64 row ids: faiss flat / IVF / HNSW with upsert, removal and exact rescoring."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import faiss
import numpy as np

from matcher.errors import IndexMismatchError, MatcherError
from matcher.index.atomic import atomic_write_bytes, atomic_write_text

BACKENDS = ("auto", "flat", "ivf", "hnsw")

_FORMAT = 1
_META_FILE = "dense.json"
_INDEX_FILE = "index.faiss"
_VECTORS_FILE = "vectors.npy"
_IDS_FILE = "ids.npy"
_LABELS_FILE = "labels.npy"

# IVF: faiss wants at least this many training points per centroid, and uses at most 256.
_MIN_POINTS_PER_CENTROID = 39
_MAX_POINTS_PER_CENTROID = 256
# IVF is retrained when the collection has grown this many times past the size it was trained on.
_IVF_RETRAIN_GROWTH = 4.0
# The numpy store is compacted when this share of its slots are dead.
_STORE_COMPACT_RATIO = 0.25


def _as_ids(ids: np.ndarray | list[int] | int) -> np.ndarray:
    return np.atleast_1d(np.asarray(ids, dtype=np.int64)).ravel()


def _save_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def _damaged(directory: Path, why: str) -> MatcherError:
    return MatcherError(f"dense index at {directory} is missing or damaged ({why}) -> rebuild it with `matcher build`")


class DenseIndex:
    """Inner-product vector index keyed by int64 ids, with upsert semantics.

    The vectors are kept in a numpy store (slot rows + id -> slot map) next to the faiss index, so
    that any candidate set can be scored exactly (`score`) whatever the backend, and so that the
    faiss index can be rebuilt at any time without the caller resending vectors.

    Backends:
    - "flat": `IndexIDMap2(IndexFlatIP)`, exact search; faiss labels are the ids.
    - "ivf": `IndexIVFFlat` (inner product) trained on the data (k-means, fixed seed), `nlist`
      defaulting to ~4*sqrt(n) (capped so each centroid has >= 39 training points); `nprobe`
      lists are scanned. It is retrained when the collection grows 4x past its training size.
    - "hnsw": `IndexHNSWFlat` (inner product). HNSW cannot remove vectors, so removed / replaced
      vectors become tombstones filtered during the search (faiss `IDSelectorBitmap`); the graph
      is rebuilt from the store once tombstones exceed `rebuild_ratio` of its nodes.
    - "auto": "flat" while the collection holds at most `exact_limit` vectors, "ivf" above. The
      choice is made on the first `add` and revisited on every later `add` (flat -> ivf when the
      collection grows past the limit; it never switches back to flat after removals).

    Upsert: faiss would store a second vector under an id that is added twice. Here `add` first
    drops duplicates inside the batch (last wins), then replaces existing ids: flat / ivf call
    `remove_ids` before `add_with_ids`; hnsw tombstones the old graph node.

    Args:
        dim: vector dimension.
        backend: "auto", "flat", "ivf" or "hnsw" (see above).
        exact_limit: largest collection "auto" serves with the exact flat index.
        nlist: IVF lists; None -> ~4*sqrt(n) at (re)training time.
        nprobe: IVF lists scanned per query (capped at nlist).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search beam width (raised to k when k is larger).
        ef_construction: HNSW construction beam width.
        rebuild_ratio: HNSW tombstone share that triggers a rebuild.
        seed: random seed for IVF training-set sampling and k-means.
    """

    def __init__(
        self,
        dim: int,
        *,
        backend: str = "auto",
        exact_limit: int = 200_000,
        nlist: int | None = None,
        nprobe: int = 32,
        hnsw_m: int = 32,
        ef_search: int = 64,
        ef_construction: int = 80,
        rebuild_ratio: float = 0.2,
        seed: int = 0,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown dense backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if dim <= 0:
            raise ValueError(f"dense index dimension must be positive, got {dim}")
        self.dim = int(dim)
        self.backend = backend
        self.exact_limit = int(exact_limit)
        self.nlist = nlist
        self.nprobe = int(nprobe)
        self.hnsw_m = int(hnsw_m)
        self.ef_search = int(ef_search)
        self.ef_construction = int(ef_construction)
        self.rebuild_ratio = float(rebuild_ratio)
        self.seed = int(seed)
        # resolved backend: fixed now unless "auto", which resolves on the first add
        self._active: str | None = None if backend == "auto" else backend
        self._index: faiss.Index | None = None
        self._trained_rows = 0
        # numpy store: rows [0, _n_slots) of _vecs; dead slots have id -1
        self._vecs = np.empty((0, self.dim), dtype=np.float32)
        self._slot_ids = np.empty(0, dtype=np.int64)
        self._n_slots = 0
        self._slot_of: dict[int, int] = {}
        # hnsw only: graph label -> id (-1 = tombstone) and slot -> graph label
        self._label_ids = np.empty(0, dtype=np.int64)
        self._slot_label = np.empty(0, dtype=np.int64)
        self._n_tombstones = 0
        self._bitmap: np.ndarray | None = None

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def active_backend(self) -> str | None:
        """The backend in use ("flat", "ivf" or "hnsw"); None for "auto" before the first add."""
        return self._active

    @property
    def ids(self) -> np.ndarray:
        """Live ids, in storage order."""
        ids = self._slot_ids[: self._n_slots]
        return ids[ids >= 0].copy()

    # ------------------------------------------------------------------ store helpers
    def _slots(self, ids: np.ndarray) -> np.ndarray:
        get = self._slot_of.get
        return np.fromiter((get(i, -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))

    def _slots_strict(self, ids: np.ndarray) -> np.ndarray:
        slots = self._slots(ids)
        if (slots < 0).any():
            missing = ids[slots < 0][:10].tolist()
            raise KeyError(f"ids not in the dense index: {missing}")
        return slots

    def _ensure_capacity(self, n: int) -> None:
        if n <= self._vecs.shape[0]:
            return
        cap = max(n, int(self._vecs.shape[0] * 1.5) + 16)
        vecs = np.empty((cap, self.dim), dtype=np.float32)
        vecs[: self._n_slots] = self._vecs[: self._n_slots]
        self._vecs = vecs
        for name in ("_slot_ids", "_slot_label"):
            old = getattr(self, name)
            new = np.full(cap, -1, dtype=np.int64)
            new[: self._n_slots] = old[: self._n_slots]
            setattr(self, name, new)

    def _compact_store(self) -> None:
        n = self._n_slots
        live = self._slot_ids[:n] >= 0
        if live.all():
            return
        self._vecs = np.ascontiguousarray(self._vecs[:n][live])
        self._slot_ids = self._slot_ids[:n][live].copy()
        self._slot_label = self._slot_label[:n][live].copy()
        self._n_slots = len(self._slot_ids)
        self._slot_of = dict(zip(self._slot_ids.tolist(), range(self._n_slots)))

    def _maybe_compact_store(self) -> None:
        dead = self._n_slots - len(self)
        if dead > 0 and dead >= _STORE_COMPACT_RATIO * self._n_slots:
            self._compact_store()

    def _live_rows(self) -> tuple[np.ndarray, np.ndarray]:
        self._compact_store()
        return self._slot_ids[: self._n_slots], self._vecs[: self._n_slots]

    # ------------------------------------------------------------------ faiss index (re)building
    def _auto_nlist(self, n: int) -> int:
        nlist = self.nlist if self.nlist is not None else int(round(4 * math.sqrt(n)))
        cap = n if self.nlist is not None else n // _MIN_POINTS_PER_CENTROID
        return int(max(1, min(nlist, max(1, cap))))

    def _rebuild(self) -> None:
        """Recreate the faiss index of the active backend from the live vectors in the store."""
        ids, vecs = self._live_rows()
        n = len(ids)
        self._bitmap = None
        if self._active == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            if n:
                index.add_with_ids(vecs, ids)
        elif self._active == "ivf":
            if n == 0:
                self._index, self._trained_rows = None, 0
                return
            nlist = self._auto_nlist(n)
            quantizer = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = self.seed
            sample = vecs
            max_train = nlist * _MAX_POINTS_PER_CENTROID
            if n > max_train:
                rng = np.random.default_rng(self.seed)
                sample = vecs[np.sort(rng.choice(n, size=max_train, replace=False))]
            index.train(np.ascontiguousarray(sample))
            index.add_with_ids(vecs, ids)
            index.nprobe = max(1, min(self.nprobe, nlist))
            self._quantizer = quantizer  # keep the Python owner alive as long as the index
            self._trained_rows = n
        else:  # hnsw
            index = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            if n:
                index.add(vecs)
            self._label_ids = ids.copy()
            self._slot_label[: self._n_slots] = np.arange(n, dtype=np.int64)
            self._n_tombstones = 0
        self._index = index

    def _resolve_backend(self, total: int) -> bool:
        """Pick the backend for "auto" given the collection size after an add; True if it changed."""
        if self.backend != "auto":
            return self._index is None
        wanted = "flat" if total <= self.exact_limit else "ivf"
        if self._active is None or (self._active == "flat" and wanted == "ivf"):
            changed = self._active != wanted or self._index is None
            self._active = wanted
            return changed
        return self._index is None

    def _tombstone(self, labels: np.ndarray) -> None:
        labels = labels[labels >= 0]
        if len(labels):
            self._label_ids[labels] = -1
            self._n_tombstones += len(labels)
            self._bitmap = None

    # ------------------------------------------------------------------ mutation
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors (upsert): an id already present gets the new vector, never a duplicate.

        Within one call, a repeated id keeps its last vector.

        Args:
            ids: (n,) int64 ids (>= 0; -1 is reserved for padding).
            vectors: (n, dim) float32 vectors (inner product is the score: normalise for cosine).

        Raises:
            IndexMismatchError: the vectors do not have the index dimension.
            ValueError: ids / vectors counts differ, negative ids, or non-finite values.
        """
        ids = _as_ids(ids)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1 and len(ids) == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise IndexMismatchError(
                f"vectors of shape {vectors.shape} do not fit a dense index of dimension {self.dim}: "
                "was the index built with another encoder? rebuild with `matcher build`"
            )
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        if len(ids) == 0:
            return
        if (ids < 0).any():
            raise ValueError("dense index ids must be >= 0 (-1 marks padding in results)")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or infinite values")
        if len(np.unique(ids)) != len(ids):  # keep the last occurrence of each id
            _, last_rev = np.unique(ids[::-1], return_index=True)
            keep = np.sort(len(ids) - 1 - last_rev)
            ids, vectors = ids[keep], vectors[keep]
        vectors = np.ascontiguousarray(vectors)

        slots = self._slots(ids)
        exists = slots >= 0
        old_ids = ids[exists]
        old_labels = self._slot_label[slots[exists]] if self._active == "hnsw" else None
        # update the numpy store: overwrite in place, append the new ids
        self._vecs[slots[exists]] = vectors[exists]
        n_new = int((~exists).sum())
        if n_new:
            self._ensure_capacity(self._n_slots + n_new)
            new_slots = np.arange(self._n_slots, self._n_slots + n_new, dtype=np.int64)
            self._vecs[new_slots] = vectors[~exists]
            self._slot_ids[new_slots] = ids[~exists]
            self._slot_label[new_slots] = -1
            self._slot_of.update(zip(ids[~exists].tolist(), new_slots.tolist()))
            self._n_slots += n_new
            slots[~exists] = new_slots

        if self._resolve_backend(len(self)):
            self._rebuild()
            return
        if self._active == "flat":
            if len(old_ids):
                self._index.remove_ids(old_ids)
            self._index.add_with_ids(vectors, ids)
        elif self._active == "ivf":
            if len(self) > _IVF_RETRAIN_GROWTH * self._trained_rows:
                self._rebuild()
                return
            if len(old_ids):
                self._index.remove_ids(old_ids)
            self._index.add_with_ids(vectors, ids)
        else:  # hnsw
            self._tombstone(old_labels)
            start = self._index.ntotal
            self._index.add(vectors)
            self._label_ids = np.concatenate([self._label_ids, ids])
            self._slot_label[slots] = np.arange(start, start + len(ids), dtype=np.int64)
            self._bitmap = None
            if self._n_tombstones > self.rebuild_ratio * self._index.ntotal:
                self._rebuild()

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; ids not in the index are ignored.

        Args:
            ids: (n,) int64 ids.

        Returns:
            How many vectors were removed.
        """
        ids = np.unique(_as_ids(ids))
        slots = self._slots(ids)
        found = slots >= 0
        ids, slots = ids[found], slots[found]
        if len(ids) == 0:
            return 0
        for i in ids.tolist():
            del self._slot_of[i]
        self._slot_ids[slots] = -1
        if self._active in ("flat", "ivf") and self._index is not None:
            self._index.remove_ids(ids)
        elif self._active == "hnsw":
            self._tombstone(self._slot_label[slots])
            self._slot_label[slots] = -1
            if self._n_tombstones > self.rebuild_ratio * self._index.ntotal:
                self._rebuild()
        self._maybe_compact_store()
        return len(ids)

    # ------------------------------------------------------------------ queries
    def _hnsw_params(self, k: int) -> tuple[faiss.SearchParametersHNSW, faiss.IDSelector | None]:
        """Search parameters skipping tombstones; the selector is returned so the caller keeps it alive."""
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        selector = None
        if self._n_tombstones:
            if self._bitmap is None:
                self._bitmap = np.packbits(self._label_ids >= 0, bitorder="little")
            selector = faiss.IDSelectorBitmap(self._bitmap)
            params.sel = selector
        return params, selector

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids by inner product for a batch of queries (one vectorised faiss call).

        Args:
            queries: (m, dim) or (dim,) float32 query vectors.
            k: results per query.

        Returns:
            (scores, ids), both (m, k): float32 scores best first and int64 ids; when fewer than k
            vectors are found, the rest is padded with id -1 and score -inf.
        """
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexMismatchError(
                f"queries of shape {queries.shape} do not fit a dense index of dimension {self.dim}"
            )
        m, k = len(queries), max(0, int(k))
        if k == 0 or len(self) == 0 or self._index is None:
            return np.full((m, k), -np.inf, dtype=np.float32), np.full((m, k), -1, dtype=np.int64)
        queries = np.ascontiguousarray(queries)
        if self._active == "hnsw":
            params, _selector = self._hnsw_params(k)
            scores, labels = self._index.search(queries, k, params=params)
            ids = np.where(labels >= 0, self._label_ids[np.maximum(labels, 0)], -1)
        else:
            scores, ids = self._index.search(queries, k)
        ids = ids.astype(np.int64, copy=False)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32, copy=False)
        return scores, ids

    def score(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact inner products between one query and the stored vectors of the given ids.

        Args:
            query: (dim,) float32 query vector.
            ids: (n,) int64 ids, all present in the index.

        Returns:
            (n,) float32 scores aligned with `ids`.

        Raises:
            KeyError: some id is not in the index.
        """
        query = np.asarray(query, dtype=np.float32).ravel()
        if query.shape[0] != self.dim:
            raise IndexMismatchError(f"query of dimension {query.shape[0]} does not fit a dense index of dimension {self.dim}")
        slots = self._slots_strict(_as_ids(ids))
        return (self._vecs[slots] @ query).astype(np.float32, copy=False)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids.

        Args:
            ids: (n,) int64 ids, all present in the index.

        Returns:
            (n, dim) float32 copy.

        Raises:
            KeyError: some id is not in the index.
        """
        return self._vecs[self._slots_strict(_as_ids(ids))].copy()

    # ------------------------------------------------------------------ persistence
    def _params(self) -> dict:
        return {
            "backend": self.backend,
            "exact_limit": self.exact_limit,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
            "ef_construction": self.ef_construction,
            "rebuild_ratio": self.rebuild_ratio,
            "seed": self.seed,
        }

    def save(self, directory: str | Path) -> None:
        """Write the index into `directory` (each file atomically; wrap in `atomic_dir` for the whole set).

        Files: dense.json (parameters), vectors.npy + ids.npy (live store), index.faiss, and for
        hnsw labels.npy (graph label -> id, -1 for tombstones).

        Args:
            directory: destination directory (created if missing).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        ids, vecs = self._live_rows()
        _save_npy(directory / _VECTORS_FILE, vecs)
        _save_npy(directory / _IDS_FILE, ids)
        if self._index is not None:
            atomic_write_bytes(directory / _INDEX_FILE, faiss.serialize_index(self._index).tobytes())
        else:
            (directory / _INDEX_FILE).unlink(missing_ok=True)
        if self._active == "hnsw":
            _save_npy(directory / _LABELS_FILE, self._label_ids)
        meta = {
            "format": _FORMAT,
            "dim": self.dim,
            "active_backend": self._active,
            "trained_rows": self._trained_rows,
            "params": self._params(),
        }
        atomic_write_text(directory / _META_FILE, json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> DenseIndex:
        """Read an index written by `save`.

        Args:
            directory: the directory given to `save`.

        Returns:
            The index, searching exactly as before it was saved.

        Raises:
            MatcherError: files are missing or inconsistent (the message says to run `matcher build`).
        """
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
            params = dict(meta["params"])
            self = cls(int(meta["dim"]), **params)
            ids = np.load(directory / _IDS_FILE, allow_pickle=False).astype(np.int64, copy=False)
            vecs = np.load(directory / _VECTORS_FILE, allow_pickle=False).astype(np.float32, copy=False)
            index_path = directory / _INDEX_FILE
            index = None
            if index_path.exists():
                raw = np.frombuffer(index_path.read_bytes(), dtype=np.uint8)
                index = faiss.deserialize_index(raw)
            labels = np.load(directory / _LABELS_FILE, allow_pickle=False) if meta["active_backend"] == "hnsw" else None
        except FileNotFoundError as exc:
            raise _damaged(directory, f"missing {Path(exc.filename).name if exc.filename else exc}") from exc
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise _damaged(directory, str(exc)) from exc
        if vecs.ndim != 2 or vecs.shape != (len(ids), self.dim):
            raise _damaged(directory, f"vectors {vecs.shape} do not match {len(ids)} ids of dimension {self.dim}")
        if len(ids) and index is None:
            raise _damaged(directory, f"missing {_INDEX_FILE}")
        if index is not None and index.d != self.dim:
            raise _damaged(directory, f"faiss index has dimension {index.d}, expected {self.dim}")
        self._active = meta["active_backend"]
        self._trained_rows = int(meta.get("trained_rows", 0))
        self._vecs = np.ascontiguousarray(vecs)
        self._slot_ids = ids.copy()
        self._slot_label = np.full(len(ids), -1, dtype=np.int64)
        self._n_slots = len(ids)
        self._slot_of = dict(zip(ids.tolist(), range(len(ids))))
        self._index = index
        if self._active == "hnsw":
            labels = labels.astype(np.int64, copy=False)
            if index is None or index.ntotal != len(labels):
                raise _damaged(directory, "hnsw labels do not match the graph")
            live = np.nonzero(labels >= 0)[0]
            if len(live) != len(ids):
                raise _damaged(directory, "hnsw graph and stored vectors disagree")
            self._label_ids = labels.copy()
            self._slot_label[self._slots_strict(labels[live])] = live
            self._n_tombstones = int(len(labels) - len(live))
        elif index is not None:
            if index.ntotal != len(ids):
                raise _damaged(directory, f"faiss index holds {index.ntotal} vectors but {len(ids)} ids are stored")
            if self._active == "ivf":
                faiss.extract_index_ivf(index).nprobe = max(1, min(self.nprobe, faiss.extract_index_ivf(index).nlist))
        return self
