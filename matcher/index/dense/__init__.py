"""Dense vector index: a numpy vector store plus one faiss backend class (flat, IVF, HNSW or auto) per configuration."""

from matcher.index.dense.base import ANN, DenseParams
from matcher.index.dense.factory import BACKENDS, create_ann
from matcher.index.dense.index import DenseIndex
from matcher.index.dense.store import VectorStore

__all__ = ["ANN", "BACKENDS", "DenseIndex", "DenseParams", "VectorStore", "create_ann"]
