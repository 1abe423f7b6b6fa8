"""Hybrid retrieval over one collection: candidates from every scorer, exact re-scoring, fusion and filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.config import default
from matcher.rank.fusion import Fusion
from matcher.rank.scorers import Scorer


@dataclass
class Hit:
    """One ranked record with the scores that put it there.

    Attributes:
        row: internal row id in the collection.
        score: fused score (comparable within one query only).
        components: raw score per scorer (e.g. "dense" cosine, "bm25", "items").
    """

    row: int
    score: float
    components: dict[str, float]


@dataclass
class Ranking:
    """The top-k of one query.

    Attributes:
        hits: best first (empty when ranked with `rows_only`).
        available: how many records passed the filters (the whole collection without filters).
        rows: the rows ranked, best first, when ranked with `rows_only` (else those of `hits`).
    """

    hits: list[Hit] = field(default_factory=list)
    available: int = 0
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.fromiter((h.row for h in self.hits), dtype=np.int64, count=len(self.hits))

    def drop(self, rows: set[int], k: int | None) -> None:
        """Leave out `rows` and keep the first `k` of the rest (all with k None)."""
        if rows:
            self.hits = [h for h in self.hits if h.row not in rows]
            self.rows = self.rows[~np.isin(self.rows, np.fromiter(rows, dtype=np.int64, count=len(rows)))]
        self.hits, self.rows = self.hits[:k], self.rows[:k]


class HybridRetriever:
    """Ranks a collection's records for a batch of queries with several scorers.

    Candidates are the union of every scorer's top-`pool`; every candidate is then scored exactly by
    every scorer (so a record found by only one signal still gets its true score from the others)
    and the fusion strategy orders them. With filters, the allowed rows are scored directly when
    they are few; otherwise the pool is grown until k filtered results survive or the collection is
    exhausted, so a filter never silently empties the list.

    Args:
        size: number of records in the collection.
        scorers: the signals, bound to the query batch.
        fusion: how their scores are combined.
        pool: candidates taken from each scorer.
        direct_limit: filtered sets up to this size are scored exhaustively.
    """

    def __init__(self, size: int, scorers: Sequence[Scorer], fusion: Fusion, *, pool: int = default("pool"), direct_limit: int = 20_000) -> None:
        self.size = size
        self.scorers = list(scorers)
        self.fusion = fusion
        self.pool = pool
        self.direct_limit = direct_limit

    def retrieve(
        self,
        n_queries: int,
        k: int | None,
        *,
        allowed: np.ndarray | None = None,
        exclude: Sequence[Sequence[int]] | None = None,
        rows_only: bool = False,
    ) -> list[Ranking]:
        """Rank the collection for every query of the batch the scorers are bound to.

        Args:
            n_queries: number of queries in the batch.
            k: results per query; None returns the whole scored candidate pool (for tuning and analysis).
            allowed: row ids that pass the filters (None: all rows).
            exclude: per query, row ids never to return (e.g. the query record itself).
            rows_only: rank the rows only (`Ranking.rows`), without building the hits with their scores.

        Returns:
            One Ranking per query.
        """
        exclude = exclude or [()] * n_queries
        available = self.size if allowed is None else len(allowed)
        if self.size == 0 or available == 0:
            return [Ranking([], available) for _ in range(n_queries)]
        if allowed is not None and len(allowed) <= self.direct_limit:
            return [
                self._rank(q, np.setdiff1d(allowed, np.asarray(exclude[q], dtype=np.int64)), k, available, rows_only)
                for q in range(n_queries)
            ]

        results: list[Ranking | None] = [None] * n_queries
        pending = list(range(n_queries))
        want = k or 0
        pool = max(self.pool, want)
        while pending:
            size = min(pool, self.size)
            found = [scorer.candidates(pending, size) for scorer in self.scorers]
            still = []
            for j, q in enumerate(pending):
                cand = np.unique(np.concatenate([f[j] for f in found]).astype(np.int64))
                if len(exclude[q]):
                    cand = np.setdiff1d(cand, np.asarray(exclude[q], dtype=np.int64))
                if allowed is not None:
                    cand = cand[np.isin(cand, allowed)]
                if len(cand) >= want or size >= self.size:
                    results[q] = self._rank(q, cand, k, available, rows_only)
                else:
                    still.append(q)
            pending = still
            pool *= 4
        return results  # type: ignore[return-value]

    def _rank(self, query: int, rows: np.ndarray, k: int | None, available: int, rows_only: bool = False) -> Ranking:
        if len(rows) == 0:
            return Ranking([], available)
        scores = {s.name: s.score(query, rows) for s in self.scorers}
        fused = self.fusion.fuse(scores)
        order = np.argsort(-fused, kind="stable")[:k]
        if rows_only:
            return Ranking([], available, rows=np.asarray(rows, dtype=np.int64)[order])
        hits = [Hit(row=int(rows[i]), score=float(fused[i]), components={name: float(s[i]) for name, s in scores.items()})
                for i in order]
        return Ranking(hits, available)
