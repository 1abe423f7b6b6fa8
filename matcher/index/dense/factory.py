"""Pick the dense backend class named by the configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.index.dense.auto import AutoANN
from matcher.index.dense.base import ANN, DenseParams
from matcher.index.dense.flat import FlatANN
from matcher.index.dense.hnsw import HNSWANN
from matcher.index.dense.ivf import IVFANN

if TYPE_CHECKING:
    from matcher.index.dense.store import VectorStore

BACKENDS: dict[str, type[ANN]] = {"auto": AutoANN, "flat": FlatANN, "ivf": IVFANN, "hnsw": HNSWANN}
"""Backend name -> class."""


def create_ann(store: VectorStore, params: DenseParams) -> ANN:
    """The backend `params.backend` over a vector store.

    Args:
        store: the `VectorStore` the backend indexes.
        params: the index settings.

    Returns:
        A new, empty backend (built on the first upsert).

    Raises:
        ValueError: unknown backend name.
    """
    try:
        cls = BACKENDS[params.backend]
    except KeyError:
        raise ValueError(f"unknown dense backend {params.backend!r}; choose one of {', '.join(BACKENDS)}") from None
    return cls(store, params)
