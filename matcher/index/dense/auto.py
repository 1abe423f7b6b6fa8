"""The "auto" dense backend: exact flat search up to `exact_limit` vectors, IVF above."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from matcher.index.dense.base import ANN, DenseParams
from matcher.index.dense.flat import FlatANN
from matcher.index.dense.ivf import IVFANN

if TYPE_CHECKING:
    from matcher.index.dense.store import VectorStore

_CHOICES: dict[str, type[ANN]] = {"flat": FlatANN, "ivf": IVFANN}


class AutoANN(ANN):
    """Delegates to a flat or an IVF backend chosen by the collection size.

    The choice is made on the first upsert and revisited on every later one: flat -> IVF when the
    collection grows past `exact_limit` (rebuilt from the store); it never switches back to flat
    after removals.
    """

    def __init__(self, store: VectorStore, params: DenseParams) -> None:
        super().__init__(store, params)
        self.inner: ANN | None = None

    @property
    def active(self) -> str | None:
        """"flat" or "ivf"; None before the first upsert."""
        return self.inner.name if self.inner is not None else None

    @property
    def ready(self) -> bool:
        """Whether the backend in use holds a faiss index."""
        return self.inner is not None and self.inner.ready

    @property
    def trained_rows(self) -> int:
        """Training size of the inner backend (0 for flat)."""
        return self.inner.trained_rows if self.inner is not None else 0

    def set_nprobe(self, nprobe: int) -> None:
        """Keep the setting, and pass it to the backend in use."""
        super().set_nprobe(nprobe)
        if self.inner is not None:
            self.inner.set_nprobe(nprobe)

    def _switch(self, name: str) -> None:
        self.inner = _CHOICES[name](self.store, self.params)

    def build(self) -> None:
        """Rebuild the backend in use (choosing one first if needed)."""
        if self.inner is None:
            self._switch("flat" if len(self.store) <= self.params.exact_limit else "ivf")
        self.inner.build()

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> None:
        """Choose or switch the backend for the new size (rebuilding it), else pass the upsert on."""
        wanted = "flat" if len(self.store) <= self.params.exact_limit else "ivf"
        if self.inner is None or (self.inner.name == "flat" and wanted == "ivf"):
            self._switch(wanted)
            self.inner.build()
            return
        self.inner.upsert(ids, vectors, replaced)

    def own(self) -> None:
        """Copy the backend in use into memory."""
        if self.inner is not None:
            self.inner.own()

    def remove(self, ids: np.ndarray) -> None:
        """Pass the removal on."""
        if self.inner is not None:
            self.inner.remove(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search with the backend in use."""
        return self.inner.search(queries, k)

    def save(self, directory: Path) -> None:
        """Save the backend in use (or drop a stale faiss file before the first upsert)."""
        if self.inner is not None:
            self.inner.save(directory)
        else:
            super().save(directory)

    def restore(self, directory: Path, index: faiss.Index | None, meta: dict) -> None:
        """Restore the backend that was in use when saved (dense.json's active_backend)."""
        active = meta.get("active_backend")
        if active is None:
            return
        if active not in _CHOICES:
            raise ValueError(f"the auto dense backend cannot run {active!r}")
        self._switch(active)
        self.inner.restore(directory, index, meta)
