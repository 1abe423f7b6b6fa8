"""The ranking signals: what they derive from both collections (cached, one invalidation) and their scorer registry."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from matcher.config import Direction, MatcherConfig
from matcher.encode import Encoder
from matcher.errors import NotBuiltError
from matcher.grading.grades import read_grades
from matcher.grading.prior import grade_values
from matcher.index.collection import Collection
from matcher.index.portfolio import FLOOR_QUANTILE, Portfolio, chance_similarity
from matcher.rank.activity import ActivityModel, percentile_ranks
from matcher.rank.activity_scores import ActivityScores
from matcher.rank.licence import ENTERPRISE_TERMS, PATENT_TERMS, LicenceScorer, states_terms
from matcher.rank.priors import PriorCache, by_row
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

logger = logging.getLogger(__name__)


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
        stored_rows: per query, its own row when it is a stored record asked with its stored text, so that what
            its side stored for that text (terms, item vectors) stands for the text (None: derive them from the text).
    """

    queries: list[Query]
    coll: Collection
    vectors: np.ndarray
    terms: list[list[str]]
    own_rows: list[int | None]
    stored_rows: list[int | None]

    def subset(self, positions: Sequence[int]) -> QueryBatch:
        """The batch of the queries at `positions`, in that order."""
        return QueryBatch([self.queries[i] for i in positions], self.coll, self.vectors[list(positions)],
                          [self.terms[i] for i in positions], [self.own_rows[i] for i in positions],
                          [self.stored_rows[i] for i in positions])

    def rows_from(self, kinds: Callable[[Kind | None], bool]) -> list[int | None]:
        """Per query, its own row when its kind passes `kinds`, else None."""
        return [r if kinds(q.kind) else None for q, r in zip(self.queries, self.own_rows)]


class Signals:
    """The signals that link the two collections, with everything they derive from the indexed records.

    The portfolio (which enterprises hold which patents), the portfolio floor, the held patents' vectors, the
    per-record priors (`PRIORS`: the enterprises' patent-activity percentiles, the patents' grades) and every
    patent's enterprise list (the "reciprocal" signal) are computed on first use and kept until `invalidate`,
    which the engine calls on every change of the records.

    Args:
        engine: the engine whose collections and configuration the signals read (live: a replaced
            `engine.config` is seen at the next use).

    A subclass may change how a signal is derived (e.g. the lab's unfloored portfolio); the engine uses whatever
    object its `signals` attribute holds.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._activity_model: tuple[Path, ActivityModel] | None = None  # (its directory, the loaded model)
        # the enterprises' log-odds by record content (kept across changes of the records: see ActivityScores)
        self._activity_scores: ActivityScores | None = None
        # the grades the "grade" prior reads: a table, or an index folder to read it from; bumped on every change
        self._grades: pd.DataFrame | Path | None = None
        self._grades_version = 0
        self._priors = PriorCache()
        self.invalidate()

    def invalidate(self) -> None:
        """Forget everything derived from the indexed records (call after any change of either collection)."""
        self._portfolio: Portfolio | None = None
        # for patent -> enterprise queries: vectors, holders and positions of portfolio.held
        self._held: tuple[np.ndarray, list[np.ndarray], dict[int, int]] | None = None
        self._floor: float | None = None
        self._priors.clear()  # per-record priors by row id
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

    # ----------------------------------------------------------------- per-record priors
    def prior(self, name: str) -> np.ndarray:
        """Per row of the collection that prior `name` of `PRIORS` scores (indexed by row id): its value, NaN for
        a record it has nothing to say about, -inf for a row id without a record; empty when the prior has no
        source (no activity model configured, no grades) or the collection holds no records."""
        kind, source, values = PRIORS[name]
        key = source(self)
        coll = self.engine.get(kind)
        if coll is None or not len(coll):
            return np.zeros(0)
        return self._priors.get(name, key, lambda: by_row(coll.records, values(self, coll.records)))

    def prior_order(self, name: str) -> np.ndarray:
        """The rows prior `name` proposes as candidates, best first (`matcher.rank.priors.proposed_order` of
        `prior(name)`, kept with its values)."""
        return self._priors.order(name) if len(self.prior(name)) else np.zeros(0, dtype=np.int64)

    @property
    def activity(self) -> np.ndarray:
        """Per enterprise row (indexed by row id): its patent-activity percentile among the indexed organisations
        (`config.activity_model`, see matcher.rank.activity); NaN for demands and other non-organisation records;
        empty without a model or enterprises."""
        return self.prior("activity")

    def activity_source(self) -> list:
        """What the activity prior derives from besides the enterprises' records (which fix its values): the model's
        folder and when it was trained ("None" and 0 without a model)."""
        path = self.engine.config.activity_model
        model = Path(path) if path is not None else None
        trained = max((f.stat().st_mtime for f in model.rglob("*") if f.is_file()), default=0.0) if model and model.is_dir() else 0.0
        return [str(model), trained]

    def activity_log_odds(self, records: pd.DataFrame) -> np.ndarray:
        """The configured activity model's log-odds of enterprise `records` (NaN for those that are not
        organisations), scoring only the records whose content it has not scored yet (kept, or saved with the index)."""
        source = self.activity_source()
        if self._activity_scores is None or self._activity_scores.source != source:
            self._activity_scores = ActivityScores(source)
        return self._activity_scores.log_odds(self.activity_model(), records)

    def activity_scores(self) -> ActivityScores | None:
        """The log-odds of the indexed enterprises to save with the index, scored now where missing; None when no
        fusion weights the activity prior, or there is no model or no enterprise."""
        if not self._activity_weighted():
            return None
        self.prior("activity")  # scores the records not scored yet
        return self._activity_scores

    def activity_current(self) -> bool:
        """Whether the activity log-odds held (scored, or saved with the index) come from the configured model; True
        when the fusions do not weight the activity prior or there is no model. (Whether they cover the records as
        they are now is not checked: a change of the records is saved anyway, with the log-odds brought up to date.)"""
        if not self._activity_weighted():
            return True
        return self._activity_scores is not None and self._activity_scores.source == self.activity_source()

    def _activity_weighted(self) -> bool:
        """Whether a fusion weights the activity prior, with a model in the configured folder and enterprises
        indexed (a missing model is reported when a query needs it, not when the index is saved)."""
        cfg, enterprises = self.engine.config, self.engine.get(Kind.ENTERPRISE)
        weighted = any(cfg.fusion_for(d).weights.get("activity") for d in Direction)
        model = cfg.activity_model is not None and Path(cfg.activity_model).is_dir()
        return weighted and model and enterprises is not None and len(enterprises) > 0

    def activity_model(self) -> ActivityModel:
        """The configured activity model, loaded once per directory."""
        path = self.engine.config.activity_model
        if self._activity_model is None or self._activity_model[0] != path:
            self._activity_model = (path, ActivityModel.load(path))
        return self._activity_model[1]

    def use_grades(self, grades: pd.DataFrame | str | Path | None) -> None:
        """Set the grades the "grade" prior reads.

        Args:
            grades: a grades table (matcher.grading.grades, GRADE_COLUMNS), or an index folder whose grades file
                (`matcher grade --index DIR`) is read on first use; None: no grades (the prior is silent).
        """
        self._grades = Path(grades) if isinstance(grades, (str, Path)) else grades
        self._grades_version += 1

    def grades(self) -> pd.DataFrame | None:
        """The grades table the "grade" prior reads (read from the index folder once); None when there is none."""
        if isinstance(self._grades, Path):
            folder, self._grades = self._grades, None
            try:
                self._grades = read_grades(folder)
            except NotBuiltError:
                if any(self.engine.config.fusion_for(d).weights.get("grade") for d in Direction):
                    logger.warning("the fusion weights the patents' grades but the index at %s has none: the grade "
                                   "prior is silent until `matcher grade --index %s`", folder, folder)
        return self._grades

    def grades_source(self) -> Hashable:
        """Which grades the "grade" prior reads (a number that changes with every `use_grades`); None without."""
        return self._grades_version if self.grades() is not None else None

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
        return json.dumps({"data": self._data_hashes, "encoder": self.engine.encoder.model_id, "depth": cfg.reciprocal_depth,
                           "fusion": cfg.fusion_for(Direction.PATENT_TO_ENTERPRISE).model_dump(mode="json"),
                           "activity": self.activity_source(), "pool": cfg.pool, "exclude_held": cfg.exclude_held},
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

    def reciprocal_current(self) -> bool:
        """Whether the patents' enterprise lists held (ranked or saved with the index) fit the records and settings
        as they are now; True when the signal is not used."""
        if not self.uses_reciprocal():
            return True
        return self._reciprocal is not None and self._reciprocal.fingerprint == self._reciprocal_fingerprint()

    def restore(self, reciprocal: ReciprocalRanks | None, activity: ActivityScores | None = None) -> None:
        """Adopt the enterprise lists and the activity log-odds saved with an index (used while their fingerprint,
        or their model, is the one configured)."""
        self._reciprocal = reciprocal
        self._activity_scores = activity

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


def _activity_values(signals: Signals, records: pd.DataFrame) -> np.ndarray:
    return percentile_ranks(signals.activity_log_odds(records))


def _grade_values(signals: Signals, records: pd.DataFrame) -> np.ndarray:
    return grade_values(records["id"].tolist(), signals.grades())


PriorSpec = tuple[Kind, Callable[[Signals], Hashable], Callable[[Signals, pd.DataFrame], np.ndarray]]
PRIORS: dict[str, PriorSpec] = {
    "activity": (Kind.ENTERPRISE, lambda signals: signals.engine.config.activity_model, _activity_values),
    "grade": (Kind.PATENT, lambda signals: signals.grades_source(), _grade_values),
}
"""Per-record priors: fusion weight name -> (the kind of records it scores, its source (None: silent; the values are
recomputed when it changes), its values per record in the order of the records)."""


def _prior(name: str) -> ScorerFactory:
    """The scorer factory of per-record prior `name`: a PriorScorer over the ranked collection when the prior scores
    that kind of records and has values."""
    def build(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer | None:
        if batch.coll.kind != PRIORS[name][0]:
            return None
        values = signals.prior(name)
        return PriorScorer(name, values, signals.prior_order(name)) if len(values) else None
    return build


def _licence(signals: Signals, batch: QueryBatch, direction: Direction) -> Scorer | None:
    """The licence-mode fit of each candidate with a stored querying record that states terms (enterprise <->
    patent only; pasted text states none)."""
    if direction not in (Direction.ENTERPRISE_TO_PATENT, Direction.PATENT_TO_ENTERPRISE):
        return None
    to_patent = direction == Direction.ENTERPRISE_TO_PATENT
    own_kind, columns = (Kind.ENTERPRISE, ENTERPRISE_TERMS) if to_patent else (Kind.PATENT, PATENT_TERMS)
    own = signals.engine.get(own_kind)
    rows = batch.rows_from(lambda kind: kind == own_kind)
    records = [own.records.loc[r].to_dict() if own is not None and r is not None else None for r in rows]
    if not any(r is not None and states_terms(r, columns) for r in records):
        return None  # nobody states terms: a constant signal, which the fusion would leave out
    return LicenceScorer(records, batch.coll.records, to_patent)


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
    # the queries have items (scopes, demands): a stored enterprise asked with its stored text brings its stored item
    # vectors (as its stored whole-text vector stands for its text), any other query's items are split and embedded
    stored = [signals.engine.get(q.kind).items if row is not None and q.kind is not None else None
              for q, row in zip(batch.queries, batch.stored_rows)]
    per_query = [split_items(q.text) if items is None else None for q, items in zip(batch.queries, stored)]
    unique = sorted({t for its in per_query if its is not None for t in its})
    vecs = dict(zip(unique, signals.engine.embed(unique))) if unique else {}
    item_vectors = [items.row_vectors(row) if items is not None
                    else np.array([vecs[t] for t in its], dtype=np.float32).reshape(-1, coll.dim)
                    for items, its, row in zip(stored, per_query, batch.stored_rows)]
    return QueryItemScorer(coll.dense, item_vectors, top_m=top_m)


SCORERS: dict[str, ScorerFactory] = {
    "dense": _dense,
    "bm25": _bm25,
    "portfolio": _portfolio,
    "activity": _prior("activity"),
    "grade": _prior("grade"),
    "licence": _licence,
    "reciprocal": _reciprocal,
    "phrase": _phrase,
    "items": _items,
}
"""Fusion weight name -> the factory of its scorer (None when the signal has nothing to say for the batch)."""

ALWAYS = ("dense", "bm25")
"""Signals scored for every query, weighted or not (their components are always reported)."""
