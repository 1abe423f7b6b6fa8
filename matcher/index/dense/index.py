"""`DenseIndex`: inner-product vector search keyed by int64 ids, with upsert, removal and exact rescoring."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import faiss
import numpy as np

from matcher.config import default
from matcher.errors import IndexMismatchError
from matcher.index.atomic import atomic_write_text
from matcher.index.dense.base import INDEX_FILE, DenseParams, as_ids, damaged
from matcher.index.dense.factory import create_ann
from matcher.index.dense.store import AUTO_STORAGE, IDS_FILE, STORAGE, VECTORS_FILE, ScoreTable, VectorStore

_FORMAT = 1
_META_FILE = "dense.json"
_CHECK_BLOCK = 65_536  # rows checked for NaN / inf together (a bounded temporary)


class DenseIndex:
    """Inner-product vector index keyed by int64 ids, with upsert semantics.

    The vectors live in a numpy `VectorStore`, so that any candidate set can be scored exactly
    (`score`) whatever the backend, and the faiss index can be rebuilt at any time without the
    caller resending vectors. The faiss side is one backend class, chosen once from `backend` by
    `matcher.index.dense.factory.create_ann`:
    - "flat" (`FlatANN`): exact search.
    - "ivf" (`IVFANN`): inverted lists trained on the data, retrained as the collection grows.
    - "hnsw" (`HNSWANN`): a graph; removed vectors are tombstones until the graph is rebuilt.
    - "auto" (`AutoANN`): "flat" up to `exact_limit` vectors, "ivf" above.

    Upsert: faiss would store a second vector under an id that is added twice. Here `add` first
    drops duplicates inside the batch (last wins), then replaces the existing ids' vectors.

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
        storage: "float32", "float16" (vectors kept at half precision, in the store and in faiss) or "auto" (float16
            when the index is first filled with more than `exact_limit` vectors, else float32; kept from then on).

    A loaded index memory-maps its saved vectors (`load`): processes that load the same files share one copy in the
    page cache; the first change copies them into memory.

    Raises:
        ValueError: unknown backend or a dimension that is not positive.
    """

    def __init__(
        self,
        dim: int,
        *,
        backend: str = default("dense_backend"),
        exact_limit: int = default("exact_limit"),
        nlist: int | None = None,
        nprobe: int = 32,
        hnsw_m: int = 32,
        ef_search: int = 64,
        ef_construction: int = 80,
        rebuild_ratio: float = 0.2,
        seed: int = 0,
        storage: str = default("vector_storage"),
    ) -> None:
        if dim <= 0:
            raise ValueError(f"dense index dimension must be positive, got {dim}")
        if storage not in STORAGE and storage != AUTO_STORAGE:
            raise ValueError(f"unknown vector storage {storage!r}; choose one of {', '.join([*STORAGE, AUTO_STORAGE])}")
        self.dim = int(dim)
        self.params = DenseParams(
            backend=backend,
            exact_limit=int(exact_limit),
            nlist=nlist,
            nprobe=int(nprobe),
            hnsw_m=int(hnsw_m),
            ef_search=int(ef_search),
            ef_construction=int(ef_construction),
            rebuild_ratio=float(rebuild_ratio),
            seed=int(seed),
            storage=storage,
        )
        self._store = VectorStore(self.dim, "float32" if storage == AUTO_STORAGE else storage)
        self._ann = create_ann(self._store, self.params)
        self._mapped_from: Path | None = None  # the folder whose files the vectors are mapped from, until a change

    def _settle_storage(self, n: int) -> None:
        """Decide an "auto" storage when the index is first filled, with `n` vectors: float16 above `exact_limit`
        (where the "auto" backend goes approximate too), else float32. It is kept from then on (saved as decided)."""
        if self.params.storage != AUTO_STORAGE or len(self._store):
            return
        self.params = replace(self.params, storage="float16" if n > self.params.exact_limit else "float32")
        self._store = VectorStore(self.dim, self.params.storage)
        self._ann = create_ann(self._store, self.params)

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self._store)

    @property
    def backend(self) -> str:
        """The configured backend ("auto", "flat", "ivf" or "hnsw")."""
        return self.params.backend

    @property
    def active_backend(self) -> str | None:
        """The backend in use ("flat", "ivf" or "hnsw"); None for "auto" before the first add."""
        return self._ann.active

    @property
    def ids(self) -> np.ndarray:
        """Live ids, in storage order."""
        return self._store.ids

    @property
    def mapped(self) -> bool:
        """Whether the vectors are still memory-mapped from the files they were loaded from."""
        return self._mapped_from is not None

    @property
    def mapped_files(self) -> list[Path]:
        """The files whose contents this index reads through memory maps (none once a change copied them)."""
        if self._mapped_from is None:
            return []
        return [p for p in (self._mapped_from / VECTORS_FILE, self._mapped_from / INDEX_FILE) if p.is_file()]

    def _own(self) -> None:
        """Copy memory-mapped vectors and faiss data into memory before a change (faiss cannot change mapped data)."""
        if self._mapped_from is not None:
            self._store.own()
            self._ann.own()
            self._mapped_from = None

    def set_nprobe(self, nprobe: int) -> None:
        """Scan `nprobe` IVF lists per query from now on (a search setting: the saved index is unchanged; ignored by
        the flat and HNSW backends)."""
        if nprobe < 1:
            raise ValueError(f"nprobe must be at least 1, got {nprobe}")
        self.params = replace(self.params, nprobe=int(nprobe))
        self._ann.set_nprobe(nprobe)

    def as_stored(self, vectors: np.ndarray) -> np.ndarray:
        """`vectors` in the dtype this index keeps (float16 for a float16 index), for `add`: a caller that converts
        its own copy first holds the float32 vectors only until then."""
        self._settle_storage(len(vectors))
        return np.asarray(vectors, dtype=self._store.dtype)

    # ------------------------------------------------------------------ mutation
    def add(self, ids: np.ndarray, vectors: np.ndarray, *, handed_over: bool = False) -> None:
        """Insert or replace vectors (upsert): an id already present gets the new vector, never a duplicate.

        Within one call, a repeated id keeps its last vector.

        Args:
            ids: (n,) int64 ids (>= 0; -1 is reserved for padding).
            vectors: (n, dim) float32 vectors (inner product is the score: normalise for cosine), or float16 ones for
                a float16 index (`as_stored`), which it then keeps without a float32 copy.
            handed_over: the caller no longer uses `vectors` (nor changes them): an empty index keeps them as its
                rows instead of a copy.

        Raises:
            IndexMismatchError: the vectors do not have the index dimension.
            ValueError: ids / vectors counts differ, negative ids, or non-finite values.
        """
        ids = as_ids(ids)
        vectors = np.asarray(vectors)
        if vectors.dtype != self._store.dtype:  # float16 rows for a float16 store are kept as they are
            vectors = vectors.astype(np.float32, copy=False)
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
        if not all(np.isfinite(vectors[i : i + _CHECK_BLOCK]).all() for i in range(0, len(vectors), _CHECK_BLOCK)):
            raise ValueError("vectors contain NaN or infinite values")
        if len(np.unique(ids)) != len(ids):  # keep the last occurrence of each id
            _, last_rev = np.unique(ids[::-1], return_index=True)
            keep = np.sort(len(ids) - 1 - last_rev)
            ids, vectors = ids[keep], vectors[keep]
        vectors = np.ascontiguousarray(vectors)
        self._settle_storage(len(ids))
        self._own()
        replaced = self._store.upsert(ids, vectors, handed_over=handed_over)
        self._ann.upsert(ids, vectors, replaced)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; ids not in the index are ignored.

        Args:
            ids: (n,) int64 ids.

        Returns:
            How many vectors were removed.
        """
        ids = np.unique(as_ids(ids))
        if not any(i in self._store for i in ids.tolist()):
            return 0
        self._own()
        removed = self._store.remove(ids)
        self._ann.remove(removed)
        self._store.maybe_compact()
        return len(removed)

    # ------------------------------------------------------------------ queries
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids by inner product for a batch of queries (one vectorised faiss call).

        Args:
            queries: (m, dim) or (dim,) float32 query vectors.
            k: results per query.

        Returns:
            (scores, ids), both (m, k): float32 scores best first and int64 ids; when fewer than k
            vectors are found, the rest is padded with id -1 and score -inf. The scores are faiss's: from float16
            codes for the IVF backend and float16 storage (within about 1e-3); `score` gives exact ones.
        """
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexMismatchError(
                f"queries of shape {queries.shape} do not fit a dense index of dimension {self.dim}"
            )
        m, k = len(queries), max(0, int(k))
        if k == 0 or len(self) == 0 or not self._ann.ready:
            return np.full((m, k), -np.inf, dtype=np.float32), np.full((m, k), -1, dtype=np.int64)
        scores, ids = self._ann.search(np.ascontiguousarray(queries), k)
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
        return self._store.score(query, as_ids(ids))

    def score_table(self, queries: np.ndarray) -> ScoreTable:
        """The inner products of a block of (m, dim) queries with every stored vector in one matrix product, summed
        in float64 so that a query's values do not depend on the block (`matcher.index.dense.store.stable_products`;
        `ScoreTable.score(column, ids)` looks them up): cheaper than `score` per query when each query scores a
        large share of the index."""
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexMismatchError(f"queries of shape {queries.shape} do not fit a dense index of dimension {self.dim}")
        return self._store.score_table(queries)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids.

        Args:
            ids: (n,) int64 ids, all present in the index.

        Returns:
            (n, dim) float32 copy.

        Raises:
            KeyError: some id is not in the index.
        """
        return self._store.vectors(as_ids(ids))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write the index into `directory` (each file atomically; wrap in `atomic_dir` for the whole set).

        Files: dense.json (parameters), vectors.npy + ids.npy (live store), index.faiss, and for
        hnsw labels.npy (graph label -> id, -1 for tombstones).

        Args:
            directory: destination directory (created if missing).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._store.save(directory)
        self._ann.save(directory)
        meta = {
            "format": _FORMAT,
            "dim": self.dim,
            "active_backend": self._ann.active,
            "trained_rows": self._ann.trained_rows,
            "params": asdict(self.params),
        }
        atomic_write_text(directory / _META_FILE, json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = True) -> DenseIndex:
        """Read an index written by `save`.

        Args:
            directory: the directory given to `save`.
            mmap: memory-map the vectors (vectors.npy, and the vectors inside index.faiss of the flat and HNSW
                backends) read-only instead of reading them into memory; the first change copies them.

        Returns:
            The index, searching exactly as before it was saved.

        Raises:
            MatcherError: files are missing or inconsistent (the message says to run `matcher build`).
        """
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
            self = cls(int(meta["dim"]), **dict(meta["params"]))
            ids = np.load(directory / IDS_FILE, allow_pickle=False).astype(np.int64, copy=False)
            held = "float32" if self.params.storage == AUTO_STORAGE else self.params.storage  # "auto": never filled
            dtype = STORAGE[held]
            mmap = mmap and len(ids) > 0  # an empty file cannot be mapped
            vecs = np.load(directory / VECTORS_FILE, allow_pickle=False, mmap_mode="r" if mmap else None)
            if vecs.dtype != dtype:  # a file of another precision (never written by `save`) is read into memory
                vecs = np.asarray(vecs, dtype=dtype)
            index_path = directory / INDEX_FILE
            index = None
            if index_path.exists():
                flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
                index = faiss.read_index(str(index_path), flags)
            active = meta["active_backend"]
        except FileNotFoundError as exc:
            raise damaged(directory, f"missing {Path(exc.filename).name if exc.filename else exc}") from exc
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise damaged(directory, str(exc)) from exc
        if vecs.ndim != 2 or vecs.shape != (len(ids), self.dim):
            raise damaged(directory, f"vectors {vecs.shape} do not match {len(ids)} ids of dimension {self.dim}")
        if len(ids) and index is None:
            raise damaged(directory, f"missing {INDEX_FILE}")
        if index is not None and index.d != self.dim:
            raise damaged(directory, f"faiss index has dimension {index.d}, expected {self.dim}")
        if active != self._ann.active and self.backend != "auto":
            raise damaged(directory, f"active backend {active!r} does not match the configured {self.backend!r}")
        self._store = VectorStore.from_arrays(ids, vecs, held)
        self._mapped_from = directory if mmap else None
        self._ann = create_ann(self._store, self.params)
        try:
            self._ann.restore(directory, index, meta)
        except ValueError as exc:
            raise damaged(directory, str(exc)) from exc
        return self
