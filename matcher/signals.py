"""The ranking signals: what they derive from both collections (cached, one invalidation) and their scorer registry."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from matcher.config import Direction, MatcherConfig
from matcher.encode import Encoder
from matcher.index.collection import Collection
from matcher.index.portfolio import FLOOR_QUANTILE, Portfolio, chance_similarity
from matcher.rank.activity import ActivityModel
from matcher.rank.reciprocal import ReciprocalRanks, ReciprocalScorer
from matcher.rank.scorers import (
    BM25Scorer,
    DenseScorer,
    HeldPatentScorer,
    HolderScorer,
    PhraseScorer,
    PriorScorer,
    QueryItemScorer,
    RecordItemScorer,
    Scorer,
)
from matcher.results import Query, SearchResult
from matcher.schema import Kind
from matcher.text.items import split_items

BATCH = 256


class Engine(Protocol):
    """What the signals and explanations read from the engine they serve (`matcher.engine.Matcher`)."""

    config: MatcherConfig
    signals: Signals

    @property
    def encoder(self) -> Encoder: ...

    def get(self, kind: Kind) -> Collection | None: ...

    def query_for(self, kind: Kind, record_id: str) -> Query: ...

    def search(self, queries: Sequence[Query], target: Kind, *, k: int, explain: bool) -> list[SearchResult]: ...

    def ranked_rows(self, queries: Sequence[Query], target: Kind, *, k: int) -> list[np.ndarray]: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def terms(self, text: str) -> list[str]: ...

    def query_phrases(self, text: str) -> list[str]: ...


@dataclass
class QueryBatch:
    """Queries prepared for ranking (or explaining) one collection.

    Attributes:
        queries: the queries.
        coll: the collection ranked.
        vectors: (m, dim) query vectors.
        terms: per query, its BM25 terms (segmented for its direction).
        own_rows: per query, its row in its own collection (None unless it is a stored record).
    """

    queries: list[Query]
    coll: Collection
    vectors: np.ndarray
    terms: list[list[str]]
    own_rows: list[int | None]

    def subset(self, positions: Sequence[int]) -> QueryBatch:
        """The batch of the queries at `positions`, in that order."""
        return QueryBatch([self.queries[i] for i in positions], self.coll, self.vectors[list(positions)],
                          [self.terms[i] for i in positions], [self.own_rows[i] for i in positions])

    def rows_from(self, kinds: Callable[[Kind | None], bool]) -> list[int | None]:
        """Per query, its own row when its kind passes `kinds`, else None."""
        return [r if kinds(q.kind) else None for q, r in zip(self.queries, self.own_rows)]


class Signals:
    """The signals that link the two collections, with everything they derive from the indexed records.

    The portfolio (which enterprises hold which patents), the portfolio floor, the held patents' vectors, the
    enterprises' patent-activity percentiles and every patent's enterprise list (the "reciprocal" signal) are
    computed on first use and kept until `invalidate`, which the engine calls on every change of the records.

    Args:
        engine: the engine whose collections and configuration the signals read (live: a replaced
            `engine.config` is seen at the next use).

    A subclass may change how a signal is derived (e.g. the lab's unfloored portfolio); the engine uses whatever
    object its `signals` attribute holds.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._activity_model: tuple[Path, ActivityModel] | None = None  # (its directory, the loaded model)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget everything derived from the indexed records (call after any change of either collection)."""
        self._portfolio: Portfolio | None = None
        # for patent -> enterprise queries: vectors, holders and positions of portfolio.held
        self._held: tuple[np.ndarray, list[np.ndarray], dict[int, int]] | None = None
        self._floor: float | None = None
        self._activity: tuple[Path | None, np.ndarray] | None = None  # (model directory, percentile per row)
        self._reciprocal: ReciprocalRanks | None = None
        self._data_hashes: str | None = None  # both collections' data hashes (part of the reciprocal fingerprint)

    # ----------------------------------------------------------------- portfolio
    @property
    def portfolio(self) -> Portfolio:
        """Which indexed enterprises hold which indexed patents (applicant = enterprise name)."""
        if self._portfolio is None:
            patents, enterprises = self.engine.get(Kind.PATENT), self.engine.get(Kind.ENTERPRISE)
            both = patents is not None and enterprises is not None
            self._portfolio = Portfolio.link(patents.records, enterprises.records) if both else Portfolio()
        return self._portfolio

    @property
    def portfolio_floor(self) -> float:
        """The cosine a held patent must exceed to count: the cosine that `FLOOR_QUANTILE` of random pairs of the
        indexed patents stay below (see matcher.index.portfolio.chance_similarity)."""
        if self._floor is None:
            patents = self.engine.get(Kind.PATENT)
            vectors = patents.dense.vectors(patents.records.index.to_numpy(dtype=np.int64)) if patents is not None else np.empty((0, 1))
            self._floor = chance_similarity(vectors, FLOOR_QUANTILE)
        return self._floor

    def held_patents(self) -> tuple[np.ndarray, list[np.ndarray], dict[int, int]]:
        """The patents held by at least one enterprise: their vectors, their holders' rows, and each one's position
        by patent row (for patent -> enterprise queries)."""
        if self._held is None:
            patents = self.engine.get(Kind.PATENT)
            held_rows = self.portfolio.held
            self._held = (patents.dense.vectors(held_rows), [self.portfolio.owners_of(r) for r in held_rows],
                          {int(r): i for i, r in enumerate(held_rows)})
        return self._held

    # ----------------------------------------------------------------- activity
    @property
    def activity(self) -> np.ndarray:
        """Per enterprise row (indexed by row id): its patent-activity percentile among the indexed organisations
        (`config.activity_model`, see matcher.rank.activity); NaN for demands and other non-organisation records;
        empty without a model or enterprises."""
        path = self.engine.config.activity_model
        if self._activity is None or self._activity[0] != path:
            enterprises = self.engine.get(Kind.ENTERPRISE)
            values = np.zeros(0)
            if path is not None and enterprises is not None and len(enterprises):
                if self._activity_model is None or self._activity_model[0] != path:
                    self._activity_model = (path, ActivityModel.load(path))
                records = enterprises.records
                values = np.full(int(records.index.max()) + 1, -np.inf)  # deleted rows: never candidates
                capitals = records["capital"].tolist() if "capital" in records else None
                values[records.index.to_numpy(dtype=np.int64)] = self._activity_model[1].percentiles(
                    records["name"].tolist(), records["text"].tolist(), capitals)
            self._activity = (path, values)
        return self._activity[1]

    # ----------------------------------------------------------------- reciprocal
    def uses_reciprocal(self) -> bool:
        """Whether enterprise -> patent ranking weights the "reciprocal" signal and both sides hold records."""
        sides = [self.engine.get(k) for k in (Kind.PATENT, Kind.ENTERPRISE)]
        both = all(c is not None and len(c) for c in sides)
        return both and bool(self.engine.config.fusion_for(Direction.ENTERPRISE_TO_PATENT).weights.get("reciprocal"))

    def _reciprocal_fingerprint(self) -> str:
        """What the patents' enterprise lists depend on: both sides' data, the encoder, the patent -> enterprise
        fusion, the activity model (path and when it was trained), the list depth and pool, and whether held
        patents are excluded."""
        if self._data_hashes is None:
            self._data_hashes = ",".join(self.engine.get(k).manifest().data_hash for k in (Kind.PATENT, Kind.ENTERPRISE))
        cfg = self.engine.config
        model = Path(cfg.activity_model) if cfg.activity_model is not None else None
        trained = max((f.stat().st_mtime for f in model.rglob("*") if f.is_file()), default=0.0) if model and model.is_dir() else 0.0
        return json.dumps({"data": self._data_hashes, "encoder": self.engine.encoder.model_id, "depth": cfg.reciprocal_depth,
                           "fusion": cfg.fusion_for(Direction.PATENT_TO_ENTERPRISE).model_dump(mode="json"),
                           "activity": [str(model), trained], "pool": cfg.pool, "exclude_held": cfg.exclude_held},
                          sort_keys=True)

    @property
    def reciprocal(self) -> ReciprocalRanks:
        """Every indexed patent's top-`reciprocal_depth` enterprises, ranked by the patent -> enterprise settings
        (computed once per change of either side or of those settings, or the lists saved with the index)."""
        fingerprint = self._reciprocal_fingerprint()
        if self._reciprocal is None or self._reciprocal.fingerprint != fingerprint:
            patents, enterprises = self.engine.get(Kind.PATENT), self.engine.get(Kind.ENTERPRISE)
            rows = patents.records.index.to_numpy(dtype=np.int64)
            queries = [self.engine.query_for(Kind.PATENT, i) for i in patents.records["id"].astype(str)]
            lists: list[tuple[int, np.ndarray]] = []
            # rows only (no records, scores or Match objects: 1,000 of them per patent would hold gigabytes)
            starts = range(0, len(queries), BATCH)
            for start in tqdm(starts, desc="rank every patent's enterprises", disable=len(queries) <= 2000):
                found = self.engine.ranked_rows(queries[start : start + BATCH], Kind.ENTERPRISE,
                                                k=self.engine.config.reciprocal_depth)
                lists.extend((int(r), ranked) for r, ranked in zip(rows[start : start + BATCH], found))
            shape = (int(rows.max()) + 1, int(enterprises.records.index.max()) + 1)
            self._reciprocal = ReciprocalRanks.from_lists(lists, shape, fingerprint)
        return self._reciprocal

    def restore(self, reciprocal: ReciprocalRanks | None) -> None:
        """Adopt the enterprise lists saved with an index (used while their fingerprint matches)."""
        self._reciprocal = reciprocal

    # ----------------------------------------------------------------- scorers
    def scorers(self, batch: QueryBatch, direction: Direction) -> list[Scorer]:
        """The scorers of one direction for a batch: "dense" and "bm25" always, every other signal of `SCORERS`
        when the direction's fusion weights it and it has something to say.

        Args:
            batch: the queries (all of `direction`) and the collection ranked.
            direction: their direction.

        Returns:
            The scorers, bound to the batch.
        """
        weights = self.engine.config.fusion_for(direction).weights
        out = []
        for name, build in SCORERS.items():
            if name in ALWAYS or weights.get(name):
                scorer = build(self, batch, direction)
                if scorer is not None:
                    out.append(scorer)
        return out


ScorerFactory = Callable[[Signals, QueryBatch, Direction], "Scorer | None"]


def _dense(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer:
    return DenseScorer(batch.coll.dense, batch.vectors)


def _bm25(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer:
    return BM25Scorer(batch.coll.lexical, batch.terms)


def _portfolio(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer | None:
    """The patents an enterprise holds, for queries from the other side (stored ones: their own portfolio)."""
    if not len(signals.portfolio):
        return None
    coll = batch.coll
    own_rows = batch.rows_from(lambda kind: kind not in (None, coll.kind))
    if coll.kind == Kind.PATENT:  # enterprise -> patent: the patents the querying enterprise holds
        patents = signals.engine.get(Kind.PATENT)
        empty = np.empty(0, dtype=np.int64)
        held = [patents.dense.vectors(signals.portfolio.patents_of(r) if r is not None else empty) for r in own_rows]
        return HeldPatentScorer(coll.dense, held, floor=signals.portfolio_floor)
    held_vectors, owners, position = signals.held_patents()  # patent -> enterprise: the patents each enterprise holds
    skip = [position.get(r, -1) if r is not None else -1 for r in own_rows]
    return HolderScorer(held_vectors, owners, batch.vectors, skip, floor=signals.portfolio_floor)


def _activity(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer | None:
    if batch.coll.kind != Kind.ENTERPRISE or not len(signals.activity):
        return None
    return PriorScorer("activity", signals.activity)


def _reciprocal(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer | None:
    if direction != Direction.ENTERPRISE_TO_PATENT or not signals.uses_reciprocal():
        return None
    return ReciprocalScorer(signals.reciprocal, batch.rows_from(lambda kind: kind == Kind.ENTERPRISE))


def _phrase(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer:
    return PhraseScorer(batch.coll.substrings, [signals.engine.query_phrases(q.text) for q in batch.queries])


def _items(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer:
    coll, top_m = batch.coll, signals.engine.config.items_top_m
    if coll.items is not None:  # the records have items (enterprises)
        return RecordItemScorer(coll.items, batch.vectors, top_m=top_m)
    per_query = [split_items(q.text) for q in batch.queries]  # the queries have items (scopes, demands)
    unique = sorted({t for its in per_query for t in its})
    vecs = dict(zip(unique, signals.engine.embed(unique))) if unique else {}
    item_vectors = [np.array([vecs[t] for t in its], dtype=np.float32).reshape(-1, coll.dim) for its in per_query]
    return QueryItemScorer(coll.dense, item_vectors, top_m=top_m)


SCORERS: dict[str, ScorerFactory] = {
    "dense": _dense,
    "bm25": _bm25,
    "portfolio": _portfolio,
    "activity": _activity,
    "reciprocal": _reciprocal,
    "phrase": _phrase,
    "items": _items,
}
"""Fusion weight name -> the factory of its scorer (None when the signal has nothing to say for the batch)."""

ALWAYS = ("dense", "bm25")
"""Signals scored for every query, weighted or not (their components are always reported)."""
