"""Scorers: each proposes candidates for a batch of queries and scores any candidate set exactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from matcher.index.dense import DenseIndex
from matcher.index.items import ItemIndex
from matcher.index.lexical import BM25Index
from matcher.index.substring import SubstringIndex


class Scorer(Protocol):
    """One relevance signal over one collection, bound to a batch of queries.

    Attributes:
        name: the key used in fusion weights and in explanations ("dense", "bm25", "items", "phrase").
    """

    name: str

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        """Row ids of the `size` best records for each of the given query positions."""

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        """Exact scores of the given rows for one query position."""


class DenseScorer:
    """Cosine similarity of whole-text embeddings (FAISS for candidates, exact dot products for scores).

    Args:
        index: the collection's dense index.
        vectors: (m, dim) query vectors.
    """

    name = "dense"

    def __init__(self, index: DenseIndex, vectors: np.ndarray) -> None:
        self.index = index
        self.vectors = vectors

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        _, ids = self.index.search(self.vectors[list(queries)], size)
        return [row[row >= 0] for row in ids]

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return self.index.score(self.vectors[query], rows).astype(np.float64)


class BM25Scorer:
    """BM25 over jieba terms.

    Args:
        index: the collection's BM25 index.
        terms: per query, its terms.
    """

    name = "bm25"

    def __init__(self, index: BM25Index | SubstringIndex, terms: Sequence[Sequence[str]]) -> None:
        self.index = index
        self.terms = terms

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        return [ids for _, ids in self.index.search_many([self.terms[q] for q in queries], size)]

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return self.index.score(self.terms[query], rows).astype(np.float64)


class QueryItemScorer:
    """Best-item similarity when the QUERY is a list of items (an enterprise's scope) and records are patents.

    A patent scores the mean of the top-m similarities between its vector and the query's items.

    Args:
        index: the patents' dense index.
        item_vectors: per query, (n_items, dim) item vectors (may be empty: the score is then 0).
        top_m: items averaged.
    """

    name = "items"

    def __init__(self, index: DenseIndex, item_vectors: Sequence[np.ndarray], top_m: int = 3) -> None:
        self.index = index
        self.item_vectors = item_vectors
        self.top_m = top_m

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        out = []
        for q in queries:
            items = self.item_vectors[q]
            if len(items) == 0:
                out.append(np.empty(0, dtype=np.int64))
                continue
            per_item = max(size // max(len(items), 1), 10)
            _, ids = self.index.search(items, per_item)
            out.append(np.unique(ids[ids >= 0]))
        return out

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        items = self.item_vectors[query]
        if len(items) == 0 or len(rows) == 0:
            return np.zeros(len(rows))
        sims = items @ self.index.vectors(rows).T
        m = min(self.top_m, len(items))
        return np.sort(sims, axis=0)[-m:].mean(axis=0).astype(np.float64)


class RecordItemScorer:
    """Best-item similarity when the RECORDS have items (enterprises' scopes) and the query is one vector.

    Args:
        index: the enterprises' item index.
        vectors: (m, dim) query vectors.
        top_m: items averaged.
    """

    name = "items"

    def __init__(self, index: ItemIndex, vectors: np.ndarray, top_m: int = 3) -> None:
        self.index = index
        self.vectors = vectors
        self.top_m = top_m

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        return self.index.search(self.vectors[list(queries)], size)

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return self.index.score(self.vectors[query], rows, top_m=self.top_m)


class PhraseScorer(BM25Scorer):
    """Literal phrase matching: BM25 over the query's phrases found verbatim in a record.

    Keyword needs are lists of technical terms ("反渗透膜 螺旋 脱盐"); a term found verbatim in a patent
    is strong evidence even where jieba segments the patent differently, which BM25 over jieba words
    misses (see `matcher.text.phrases` and `matcher.index.substring`).

    Args:
        index: the collection's substring index (same search / score interface as BM25Index).
        terms: per query, its phrases.
    """

    name = "phrase"
