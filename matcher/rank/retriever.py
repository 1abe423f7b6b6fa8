"""Hybrid retrieval over one collection: dense + BM25 candidates, exact re-scoring, fusion and filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.index.collection import Collection
from matcher.rank.fusion import Fusion

SCORERS = ("dense", "bm25")


@dataclass
class Hit:
    """One ranked record with the scores that put it there.

    Attributes:
        row: internal row id in the collection.
        score: fused score (comparable within one query only).
        components: raw score per scorer ("dense" cosine, "bm25").
        ranks: 1-based rank per scorer within the candidate pool.
    """

    row: int
    score: float
    components: dict[str, float]
    ranks: dict[str, int]


@dataclass
class Ranking:
    """The top-k of one query.

    Attributes:
        hits: best first.
        available: how many records passed the filters (the whole collection without filters).
    """

    hits: list[Hit] = field(default_factory=list)
    available: int = 0


class HybridRetriever:
    """Ranks a collection's records for query vectors and query terms.

    Candidates are the union of the dense top-`pool` and the BM25 top-`pool`; every candidate is
    then scored exactly by both scorers (so a record found by only one retriever still gets its
    true score from the other) and the fusion strategy orders them. With filters, the allowed rows
    are scored directly when they are few; otherwise the pool is grown until k filtered results
    survive or the collection is exhausted, so a filter never silently empties the list.

    Args:
        collection: the records to rank.
        fusion: how dense and BM25 scores are combined.
        pool: candidates taken from each retriever.
        direct_limit: filtered sets up to this size are scored exhaustively.
    """

    def __init__(self, collection: Collection, fusion: Fusion, *, pool: int = 200, direct_limit: int = 20_000) -> None:
        self.collection = collection
        self.fusion = fusion
        self.pool = pool
        self.direct_limit = direct_limit

    def retrieve(
        self,
        query_vectors: np.ndarray,
        query_terms: Sequence[Sequence[str]],
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: Sequence[Sequence[int]] | None = None,
    ) -> list[Ranking]:
        """Rank the collection for a batch of queries.

        Args:
            query_vectors: (m, dim) L2-normalised query embeddings.
            query_terms: m lists of BM25 query terms.
            k: results per query.
            allowed: row ids that pass the filters (None: all rows).
            exclude: per query, row ids never to return (e.g. the query record itself).

        Returns:
            One Ranking per query.
        """
        m = len(query_terms)
        n = len(self.collection)
        exclude = exclude or [()] * m
        available = n if allowed is None else len(allowed)
        if n == 0 or available == 0:
            return [Ranking([], available) for _ in range(m)]
        if allowed is not None and len(allowed) <= self.direct_limit:
            pools = [np.setdiff1d(allowed, np.asarray(ex, dtype=np.int64)) for ex in exclude]
            return [self._rank(query_vectors[i], query_terms[i], pools[i], k, available) for i in range(m)]

        allowed_set = None if allowed is None else set(allowed.tolist())
        results: list[Ranking | None] = [None] * m
        pending = list(range(m))
        pool = max(self.pool, k)
        while pending:
            size = min(pool, n)
            d_scores, d_ids = self.collection.dense.search(query_vectors[pending], size)
            l_results = self.collection.lexical.search_many([query_terms[i] for i in pending], size)
            still = []
            for j, qi in enumerate(pending):
                cand = np.union1d(d_ids[j][d_ids[j] >= 0], l_results[j][1])
                if exclude[qi]:
                    cand = np.setdiff1d(cand, np.asarray(exclude[qi], dtype=np.int64))
                if allowed_set is not None:
                    cand = np.array([c for c in cand.tolist() if c in allowed_set], dtype=np.int64)
                if len(cand) >= k or size >= n:
                    results[qi] = self._rank(query_vectors[qi], query_terms[qi], cand, k, available)
                else:
                    still.append(qi)
            pending = still
            pool *= 4
        return results  # type: ignore[return-value]

    def _rank(self, vector: np.ndarray, terms: Sequence[str], rows: np.ndarray, k: int, available: int) -> Ranking:
        if len(rows) == 0:
            return Ranking([], available)
        scores = {
            "dense": self.collection.dense.score(vector, rows).astype(np.float64),
            "bm25": self.collection.lexical.score(terms, rows).astype(np.float64),
        }
        fused = self.fusion.fuse(scores)
        order = np.argsort(-fused, kind="stable")
        ranks = {name: _ranks(s) for name, s in scores.items()}
        hits = [
            Hit(
                row=int(rows[i]),
                score=float(fused[i]),
                components={name: float(s[i]) for name, s in scores.items()},
                ranks={name: int(r[i]) for name, r in ranks.items()},
            )
            for i in order[:k]
        ]
        return Ranking(hits, available)


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks
