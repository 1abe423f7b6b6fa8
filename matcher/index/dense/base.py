"""What every dense backend shares: its parameters, the `ANN` interface and the on-disk file helpers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from matcher.config import default
from matcher.errors import MatcherError
from matcher.index.atomic import atomic_write_with

if TYPE_CHECKING:
    from matcher.index.dense.store import VectorStore

INDEX_FILE = "index.faiss"
# Rows converted to float32 at a time on their way from a float16 store to faiss (192 MB at 768 dimensions).
FAISS_BLOCK = 65_536


@dataclass(frozen=True)
class DenseParams:
    """Settings of a dense index (saved in dense.json, in this order).

    Args:
        backend: "auto", "flat", "ivf" or "hnsw" (see `matcher.index.dense.factory`).
        exact_limit: largest collection "auto" serves with the exact flat index.
        nlist: IVF lists; None -> ~4*sqrt(n) at (re)training time.
        nprobe: IVF lists scanned per query (capped at nlist).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search beam width (raised to k when k is larger).
        ef_construction: HNSW construction beam width.
        rebuild_ratio: HNSW tombstone share that triggers a rebuild.
        seed: random seed for IVF training-set sampling and k-means.
        storage: "float32" or "float16": how the vectors are kept, in the store and in the flat or HNSW faiss index
            (faiss's float16 scalar quantizer; the IVF lists hold float16 codes either way); float16 halves the
            memory, scores move by about 1e-3.
    """

    backend: str = default("dense_backend")
    exact_limit: int = default("exact_limit")
    nlist: int | None = None
    nprobe: int = 32
    hnsw_m: int = 32
    ef_search: int = 64
    ef_construction: int = 80
    rebuild_ratio: float = 0.2
    seed: int = 0
    storage: str = default("vector_storage")


def sq_type(storage: str) -> int | None:
    """The faiss scalar-quantizer type for a storage, None for plain float32."""
    return faiss.ScalarQuantizer.QT_fp16 if storage == "float16" else None


def add_with_ids(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> None:
    """`index.add_with_ids` of float32 or float16 rows. faiss takes float32: float16 rows (a float16 store's) are
    converted a block at a time, so the store is never copied whole; float32 rows go in one call, as they are."""
    if vectors.dtype == np.float32:
        index.add_with_ids(np.ascontiguousarray(vectors), ids)
        return
    for start in range(0, len(ids), FAISS_BLOCK):
        stop = start + FAISS_BLOCK
        index.add_with_ids(np.ascontiguousarray(vectors[start:stop], dtype=np.float32), ids[start:stop])


def as_ids(ids: np.ndarray | list[int] | int) -> np.ndarray:
    """Ids as a flat int64 array."""
    return np.atleast_1d(np.asarray(ids, dtype=np.int64)).ravel()


def damaged(directory: Path, why: str) -> MatcherError:
    """The error for a saved dense index that cannot be read back."""
    return MatcherError(f"dense index at {directory} is missing or damaged ({why}) -> rebuild it with `matcher build`")


class ANN:
    """A faiss index over the live vectors of a `VectorStore`, kept in step with it.

    The store is updated first; the backend then mirrors the change (`upsert`, `remove`) and can
    always rebuild itself from the store (`build`). Subclasses set `name` and implement `build`,
    `upsert` and `search`; `remove`, `save` and `restore` work for backends whose faiss labels are
    the ids.

    Args:
        store: the vectors (shared with the owning `DenseIndex`).
        params: the index settings.
    """

    name: str | None = None

    def __init__(self, store: VectorStore, params: DenseParams) -> None:
        self.store = store
        self.params = params
        self.index: faiss.Index | None = None

    @property
    def active(self) -> str | None:
        """The backend in use ("flat", "ivf" or "hnsw"); None while "auto" has not chosen yet."""
        return self.name

    @property
    def ready(self) -> bool:
        """Whether a faiss index exists (it is created on the first upsert)."""
        return self.index is not None

    @property
    def trained_rows(self) -> int:
        """Collection size the index was trained on (IVF; 0 for backends without training)."""
        return 0

    def build(self) -> None:
        """Recreate the faiss index from the live vectors of the store."""
        raise NotImplementedError

    def set_nprobe(self, nprobe: int) -> None:
        """Scan `nprobe` lists per query from now on (IVF; the other backends only keep the setting)."""
        self.params = replace(self.params, nprobe=int(nprobe))

    def needs_build(self) -> bool:
        """Whether the next upsert rebuilds the index from the store instead of applying the batch (default: no
        index yet)."""
        return self.index is None

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> None:
        """Mirror an upsert already applied to the store: rebuild when `needs_build`, else remove the replaced ids'
        old vectors and add the batch (faiss indexes whose labels are the ids).

        Args:
            ids: (n,) distinct ids just written.
            vectors: (n, dim) their vectors (float32, or float16 from a float16 store).
            replaced: the ids among them that were present before (their old vectors must go).
        """
        if self.needs_build():
            self.build()
            return
        if len(replaced):
            self.index.remove_ids(replaced)
        add_with_ids(self.index, vectors, ids)

    def own(self) -> None:
        """Copy a memory-mapped faiss index into memory (faiss cannot change a mapped one), before a change."""
        if self.index is not None:
            self.index = faiss.deserialize_index(faiss.serialize_index(self.index))

    def remove(self, ids: np.ndarray) -> None:
        """Mirror a removal already applied to the store.

        Args:
            ids: (n,) distinct ids that were present.
        """
        if self.index is not None:
            self.index.remove_ids(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw faiss top-k on a built, non-empty index.

        Args:
            queries: (m, dim) contiguous float32 queries.
            k: results per query (> 0).

        Returns:
            (scores, ids), both (m, k); missing results have id -1.
        """
        return self.index.search(queries, k)

    def save(self, directory: Path) -> None:
        """Write the faiss index (or drop a stale one when there is none)."""
        if self.index is not None:
            atomic_write_with(directory / INDEX_FILE, lambda fh: faiss.write_index(self.index, faiss.PyCallbackIOWriter(fh.write)))
        else:
            (directory / INDEX_FILE).unlink(missing_ok=True)

    def restore(self, directory: Path, index: faiss.Index | None, meta: dict) -> None:
        """Take over a faiss index read from `directory` (written by `save`), checking it against the store.

        Args:
            directory: the saved index directory (for error messages and extra files).
            index: the deserialised faiss index, or None when none was saved.
            meta: the parsed dense.json.

        Raises:
            MatcherError: the faiss index does not match the stored vectors.
        """
        if index is not None and index.ntotal != len(self.store):
            raise damaged(directory, f"faiss index holds {index.ntotal} vectors but {len(self.store)} ids are stored")
        self.index = index
