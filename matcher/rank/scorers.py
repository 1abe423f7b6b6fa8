"""Scorers: each proposes candidates for a batch of queries and scores any candidate set exactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from matcher.config import default
from matcher.index.dense import DenseIndex
from matcher.index.dense.store import ScoreTable
from matcher.index.items import ItemIndex
from matcher.index.lexical import BM25Index
from matcher.index.substring import SubstringIndex
from matcher.rank.priors import proposed_order


TABLE_BLOCK = 64
"""Queries whose item similarities `RecordItemScorer` computes in one matrix product."""
TABLE_SHARE = 4
"""A list whose candidates hold at least 1/TABLE_SHARE of all items is scored from a table. On the shared data the
reciprocal signal's 1,000-deep lists hold 1/2.8-1/1.3 of the items (median 1/2), the 10-deep lists of the nightly
job and the workbench 1/12-1/5 (median 1/9); a table costs 7-12 ms a query in a block of 64 (about 150 ms for a query
alone, which widens every item vector for it), gathering 1/16 of the item vectors 16 ms and 1/4 about 70 ms, and the
10-deep lists gained nothing from tables (docs/performance.md)."""


KEPT_SCORES = 1 << 24
"""`BM25Scorer` keeps every document's score of a batch of queries up to this many floats (64 MB): a batch of 256
enterprises against 4,097 patents is 1 M, 256 patents against 21,956 enterprises 5.6 M; at 200,000 enterprises the
patent lists score their candidates one query at a time as before."""


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
        self._all: dict[int, np.ndarray] = {}  # query -> its score of every document, kept from `candidates`

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        """The queries' best documents; over a BM25 index small enough, every document's score is computed once
        (the product that finds the candidates) and kept, so that `score` reads the candidates' scores from it."""
        tokens = [self.terms[q] for q in queries]
        if isinstance(self.index, BM25Index) and len(queries) * self.index.stored_rows <= KEPT_SCORES:
            scores = self.index.score_all(tokens)
            self._all.update(zip(queries, scores))
            return [ids for _, ids in self.index.top_of(scores, size)]
        return [ids for _, ids in self.index.search_many(tokens, size)]

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        kept = self._all.get(query)
        if kept is not None:
            return self.index.scores_at(kept, rows).astype(np.float64)
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

    def __init__(self, index: DenseIndex, item_vectors: Sequence[np.ndarray], top_m: int = default("items_top_m")) -> None:
        self.index = index
        self.item_vectors = item_vectors
        self.top_m = top_m

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        """Each query's items' nearest records, `size // n_items` (at least 10) per item: the items of the whole
        batch in one search (one matrix product instead of a small one per query), each item's list then cut to
        its query's depth."""
        counts = [len(self.item_vectors[q]) for q in queries]
        depths = [max(size // n, 10) if n else 0 for n in counts]
        if not any(counts):
            return [np.empty(0, dtype=np.int64) for _ in queries]
        _, ids = self.index.search(np.concatenate([self.item_vectors[q] for q, n in zip(queries, counts) if n]),
                                   max(depths))
        out, start = [], 0
        for n, depth in zip(counts, depths):
            found = ids[start : start + n, :depth]
            out.append(np.unique(found[found >= 0]).astype(np.int64))
            start += n
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

    def __init__(self, index: ItemIndex, vectors: np.ndarray, top_m: int = default("items_top_m")) -> None:
        self.index = index
        self.vectors = vectors
        self.top_m = top_m
        self._block: tuple[int, ScoreTable] | None = None

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        return self.index.search(self.vectors[list(queries)], size)

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        """The candidates' best-item scores. A deep list (its candidates hold at least 1/`TABLE_SHARE` of all items:
        the reciprocal signal's lists, 1,000 deep) reads them from the similarities of its block of `TABLE_BLOCK`
        queries with every item, one matrix product summed in float64, so the list is the same in any batch; a
        shorter one gathers its candidates' item vectors (`ItemIndex.score`). Whether a list is deep depends on its
        candidates only, never on the batch."""
        if self.index.item_count(rows) * TABLE_SHARE < len(self.index.dense):
            return self.index.score(self.vectors[query], rows, top_m=self.top_m)
        start = query - query % TABLE_BLOCK
        if self._block is None or self._block[0] != start:
            self._block = (start, self.index.table(self.vectors[start : start + TABLE_BLOCK]))
        return self.index.score_in(self._block[1], query - start, rows, top_m=self.top_m)


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


def floored(cosines: np.ndarray, floor: float) -> np.ndarray:
    """A portfolio score: the cosine above the floor, 0 at or below it (no evidence)."""
    return np.maximum(cosines - floor, 0.0)


class HeldPatentScorer(QueryItemScorer):
    """Enterprise -> patent: a patent scores its best cosine to any patent the querying enterprise already holds.

    The enterprise's own patents (see `matcher.index.portfolio`) describe its technology in patent language, so
    they reach patents that its business scope does not name. Queries without held patents score 0 everywhere
    (a constant that both fusions ignore).

    Args:
        index: the patents' dense index.
        held_vectors: per query, (n_held, dim) vectors of the patents it holds (may be empty).
        floor: cosines up to this count as no evidence (score = max(0, cosine - floor)).
    """

    name = "portfolio"

    def __init__(self, index: DenseIndex, held_vectors: Sequence[np.ndarray], floor: float = 0.0) -> None:
        super().__init__(index, held_vectors, top_m=1)
        self.floor = floor

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return floored(super().score(query, rows), self.floor)


class HolderScorer:
    """Patent -> enterprise: an enterprise scores the best cosine between the query patent and the patents it holds.

    Enterprises without indexed patents score 0, so do cosines up to `floor` (score = max(0, cosine - floor)):
    most enterprises hold nothing, and a weak resemblance must not lift a holder above them. The query patent itself (when it is stored and held) is
    ignored, so its owner is not scored by the patent's similarity to itself.

    Args:
        held_vectors: (n_held, dim) vectors of the patents held by at least one enterprise.
        held_owners: for each held patent, the enterprise rows holding it.
        vectors: (m, dim) query vectors.
        skip: per query, the position in `held_vectors` to ignore (-1 for none).
        floor: see above.
    """

    name = "portfolio"

    def __init__(self, held_vectors: np.ndarray, held_owners: Sequence[np.ndarray], vectors: np.ndarray,
                 skip: Sequence[int] | None = None, floor: float = 0.0) -> None:
        owner_of_pair = np.concatenate(held_owners).astype(np.int64) if len(held_owners) else np.empty(0, np.int64)
        self._pair_held = np.repeat(np.arange(len(held_owners)), [len(o) for o in held_owners])
        self.holders, self._pair_holder = np.unique(owner_of_pair, return_inverse=True)
        self.held_vectors = held_vectors
        self.vectors = vectors
        self.skip = list(skip) if skip is not None else [-1] * len(vectors)
        self.floor = floor
        self._best: dict[int, np.ndarray] = {}

    def _holder_scores(self, query: int) -> np.ndarray:
        """Best cosine per holder (aligned with `self.holders`) for one query."""
        if query not in self._best:
            sims = self.held_vectors @ self.vectors[query] if len(self.held_vectors) else np.empty(0)
            if self.skip[query] >= 0:
                sims[self.skip[query]] = -np.inf
            best = np.full(len(self.holders), -np.inf)
            np.maximum.at(best, self._pair_holder, sims[self._pair_held])
            self._best[query] = floored(best, self.floor)  # no held patent (-inf), or only unrelated ones: 0
        return self._best[query]

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        out = []
        for q in queries:
            best = self._holder_scores(q)
            top = np.argsort(-best, kind="stable")[:size]
            out.append(self.holders[top[best[top] > 0]])
        return out

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        best = self._holder_scores(query)
        if len(self.holders) == 0:
            return np.zeros(len(rows))
        pos = np.minimum(np.searchsorted(self.holders, rows), len(self.holders) - 1)
        return np.where(self.holders[pos] == rows, best[pos], 0.0).astype(np.float64)


class PriorScorer:
    """A query-independent score per record (e.g. an enterprise's patent activity, `matcher.rank.activity`).

    Every query proposes the same candidates, the records with the highest prior, so a record the text signals
    miss can still be ranked when its prior is high; the fusion weight decides how much that counts.

    Args:
        name: the fusion key ("activity").
        values: (n_records,) the prior of every record of the collection; NaN for a record it has nothing to say
            about (scored, never proposed), -inf for a row id that holds no record (never proposed).
        order: the rows it proposes, best first (`matcher.rank.priors.proposed_order` of `values`, which the engine
            keeps with them); None computes it on first use.
    """

    def __init__(self, name: str, values: np.ndarray, order: np.ndarray | None = None) -> None:
        self.name = name
        self.values = np.asarray(values, dtype=np.float64)
        self._order = order

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        if self._order is None:
            self._order = proposed_order(self.values)
        top = self._order[:size]
        return [top for _ in queries]

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        return self.values[rows]
