"""The matching engine: patents and enterprises indexed side by side, ranked and explained in both directions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from matcher.config import Direction, MatcherConfig
from matcher.encode import Encoder, load_encoder, with_cache
from matcher.errors import MatcherError, NotBuiltError
from matcher.explain import Explanation, SentenceLocator, shared_key_terms
from matcher.index.atomic import atomic_dir, recover_dir
from matcher.index.collection import CONTENT, Collection
from matcher.index.portfolio import Portfolio, chance_similarity
from matcher.rank.activity import ActivityModel
from matcher.rank.fusion import make_fusion
from matcher.rank.reciprocal import ReciprocalRanks, ReciprocalScorer
from matcher.rank.retriever import HybridRetriever, Ranking
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
from matcher.schema import Kind, record_text
from matcher.text.boilerplate import embedding_text
from matcher.text.items import split_items
from matcher.text.normalize import normalize
from matcher.text.phrases import query_phrases
from matcher.text.segment import Segmenter

BATCH = 256


@dataclass
class Query:
    """What to match: free text, or a stored patent / enterprise.

    Attributes:
        text: the query text.
        kind: the side the query comes from (None for free text).
        id: the record id when the query is a stored record.
        exclude: ids of ranked records never returned for this query (e.g. the pairs already on an officer's
            shortlist): they are dropped from the finished ranking, so the other records keep their scores and
            order and the list fills from the next ones; ids not in the index are ignored.
    """

    text: str
    kind: Kind | None = None
    id: str | None = None
    exclude: tuple[str, ...] = ()


@dataclass
class Match:
    """One ranked record for a query, with the evidence for it."""

    rank: int
    target_id: str
    score: float
    components: dict[str, float]
    ranks: dict[str, int]
    record: dict
    explanation: Explanation | None = None


@dataclass
class SearchResult:
    """The ranked matches of one query.

    Attributes:
        query: the query.
        target: the kind of records ranked.
        matches: best first.
        available: how many records passed the filters.
    """

    query: Query
    target: Kind
    matches: list[Match] = field(default_factory=list)
    available: int = 0

    @property
    def note(self) -> str:
        """A sentence for the user when fewer results exist than were asked for ('' otherwise)."""
        if self.available == 0:
            return f"没有符合筛选条件的{_LABEL[self.target]}（no {self.target.value} passes the filters）"
        if len(self.matches) < self.available or not self.matches:
            return ""
        return f"仅有 {self.available} 条{_LABEL[self.target]}符合筛选条件（only {self.available} pass the filters）"


_LABEL = {Kind.PATENT: "专利", Kind.ENTERPRISE: "企业/需求"}


def direction_of(query_kind: Kind | None, target: Kind) -> Direction:
    """The push direction of a query side and a ranked side."""
    if query_kind == Kind.ENTERPRISE and target == Kind.PATENT:
        return Direction.ENTERPRISE_TO_PATENT
    if query_kind == Kind.PATENT and target == Kind.ENTERPRISE:
        return Direction.PATENT_TO_ENTERPRISE
    return Direction.TEXT_TO_PATENT if target == Kind.PATENT else Direction.TEXT_TO_ENTERPRISE


class Matcher:
    """Builds, updates, saves and queries the two collections.

    Args:
        config: engine configuration (defaults: USE-m3, jieba search mode, tuned fusion).
        encoder: an Encoder to use instead of the configured one (it is wrapped in the disk cache).
        segmenter: a Segmenter to use instead of one built from the configuration.
    """

    def __init__(
        self,
        config: MatcherConfig | None = None,
        *,
        encoder: Encoder | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.config = config or MatcherConfig()
        self._encoder = encoder
        self.segmenter = segmenter or Segmenter(self.config.segment_mode)
        self.collections: dict[Kind, Collection] = {}
        self._portfolio: Portfolio | None = None
        # for patent -> enterprise queries: vectors, holders and positions of portfolio.held
        self._held: tuple[np.ndarray, list[np.ndarray], dict[int, int]] | None = None
        self._chance: tuple[float, float] | None = None  # (quantile, cosine of random patent pairs at it)
        self._activity_model: tuple[Path, ActivityModel] | None = None  # (its directory, the loaded model)
        self._activity: tuple[Path | None, np.ndarray] | None = None  # (model directory, percentile per enterprise row)
        self._reciprocal: ReciprocalRanks | None = None  # every patent's enterprise list, for enterprise -> patent
        self._data_hashes: str | None = None  # both collections' data hashes (part of the reciprocal fingerprint)
        self._terms = lru_cache(maxsize=200_000)(self.segmenter.tokens)
        self._query_terms = lru_cache(maxsize=50_000)(self.segmenter.tokens)
        self._query_phrases = lru_cache(maxsize=50_000)(partial(query_phrases, segmenter=self.segmenter))

    # ----------------------------------------------------------------- components
    @property
    def encoder(self) -> Encoder:
        """The (disk-cached) encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = load_encoder(self.config.encoder)
        self._encoder = with_cache(self._encoder, self.config.cache_dir)  # no-op once cached
        return self._encoder

    @property
    def portfolio(self) -> Portfolio:
        """Which indexed enterprises hold which indexed patents (applicant = enterprise name), rebuilt after changes."""
        if self._portfolio is None:
            patents, enterprises = self.collections.get(Kind.PATENT), self.collections.get(Kind.ENTERPRISE)
            both = patents is not None and enterprises is not None
            self._portfolio = Portfolio.link(patents.records, enterprises.records) if both else Portfolio()
        return self._portfolio

    @property
    def portfolio_floor(self) -> float:
        """The cosine a held patent must exceed to count: `config.portfolio_floor`, else the configured quantile of
        random pairs of the indexed patents (computed once per change of the patents)."""
        if self.config.portfolio_floor is not None:
            return self.config.portfolio_floor
        quantile = self.config.portfolio_floor_quantile
        if self._chance is None or self._chance[0] != quantile:
            patents = self.collections.get(Kind.PATENT)
            vectors = patents.dense.vectors(patents.records.index.to_numpy(dtype=np.int64)) if patents is not None else np.empty((0, 1))
            self._chance = (quantile, chance_similarity(vectors, quantile))
        return self._chance[1]

    @property
    def activity(self) -> np.ndarray:
        """Per enterprise row (indexed by row id): its patent-activity percentile among the indexed organisations
        (`config.activity_model`, see matcher.rank.activity; computed once per model and change of the
        enterprises); NaN for demands and other non-organisation records; empty without a model or enterprises."""
        path = self.config.activity_model
        if self._activity is None or self._activity[0] != path:
            enterprises = self.collections.get(Kind.ENTERPRISE)
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

    def uses_reciprocal(self) -> bool:
        """Whether enterprise -> patent ranking weights the "reciprocal" signal and both sides are indexed."""
        both = all(k in self.collections and len(self.collections[k]) for k in (Kind.PATENT, Kind.ENTERPRISE))
        return both and bool(self.config.fusion_for(Direction.ENTERPRISE_TO_PATENT).weights.get("reciprocal"))

    def _reciprocal_fingerprint(self) -> str:
        """What the patents' enterprise lists depend on: both sides' data, the encoder, the patent -> enterprise
        fusion, the activity model (path and when it was trained), the list depth and pool, and whether held
        patents are excluded."""
        if self._data_hashes is None:
            self._data_hashes = ",".join(self.collections[k].manifest().data_hash for k in (Kind.PATENT, Kind.ENTERPRISE))
        cfg = self.config
        model = Path(cfg.activity_model) if cfg.activity_model is not None else None
        trained = max((f.stat().st_mtime for f in model.rglob("*") if f.is_file()), default=0.0) if model and model.is_dir() else 0.0
        return json.dumps({"data": self._data_hashes, "encoder": self.encoder.model_id, "depth": cfg.reciprocal_depth,
                           "fusion": cfg.fusion_for(Direction.PATENT_TO_ENTERPRISE).model_dump(mode="json"),
                           "activity": [str(model), trained], "pool": cfg.pool, "exclude_held": cfg.exclude_held},
                          sort_keys=True)

    @property
    def reciprocal(self) -> ReciprocalRanks:
        """Every indexed patent's top-`reciprocal_depth` enterprises, ranked by the patent -> enterprise settings
        (computed once per change of either side or of those settings, or read from the saved index)."""
        fingerprint = self._reciprocal_fingerprint()
        if self._reciprocal is None or self._reciprocal.fingerprint != fingerprint:
            patents, enterprises = self.collection(Kind.PATENT), self.collection(Kind.ENTERPRISE)
            rows = patents.records.index.to_numpy(dtype=np.int64)
            queries = [self.query_for(Kind.PATENT, i) for i in patents.records["id"].astype(str)]
            lists: list[tuple[int, np.ndarray]] = []
            # one batch at a time: a batch's 1,000-deep results become row arrays before the next is ranked
            # (all patents' Match objects at once would hold gigabytes)
            starts = range(0, len(queries), BATCH)
            for start in tqdm(starts, desc="rank every patent's enterprises", disable=len(queries) <= 2000):
                results = self.search(queries[start : start + BATCH], Kind.ENTERPRISE,
                                      k=self.config.reciprocal_depth, explain=False)
                lists.extend((int(r), enterprises.rows_of([m.target_id for m in res.matches]))
                             for r, res in zip(rows[start : start + BATCH], results))
            shape = (int(rows.max()) + 1, int(enterprises.records.index.max()) + 1)
            self._reciprocal = ReciprocalRanks.from_lists(lists, shape, fingerprint)
        return self._reciprocal

    def collection(self, kind: Kind | str) -> Collection:
        """The collection of one kind (NotBuiltError when it has not been built)."""
        kind = Kind(kind)
        if kind not in self.collections or len(self.collections[kind]) == 0:
            raise NotBuiltError(f"no {kind.value}s are indexed yet: run `matcher build` with {kind.value} data")
        return self.collections[kind]

    @staticmethod
    def dense_text(text: str) -> str:
        """The text given to the encoder: normalised, boilerplate removed."""
        return embedding_text(text)

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed texts (normalised, boilerplate removed) with the cached encoder."""
        return self.encoder.encode([self.dense_text(t) for t in texts], show_progress=show_progress)

    def terms(self, text: str) -> list[str]:
        """BM25 / key terms of a record text, as indexed (memoised)."""
        return self._terms(text)

    def query_terms(self, text: str, direction: Direction) -> list[str]:
        """BM25 terms of a query, segmented in the direction's query mode (memoised)."""
        return self._query_terms(text, self.config.fusion_for(direction).query_segment_mode)

    def query_phrases(self, text: str) -> list[str]:
        """Literal phrases of a query for the phrase scorer (memoised; see `matcher.text.phrases`)."""
        return self._query_phrases(text)

    # ----------------------------------------------------------------- build and update
    def index(self, kind: Kind | str, frame: pd.DataFrame, *, show_progress: bool = False) -> tuple[int, int]:
        """Add or replace records of one kind (segment, embed, upsert into FAISS and BM25).

        Args:
            kind: the record kind.
            frame: validated records with the schema's canonical columns.
            show_progress: show progress bars.

        Returns:
            (records added, records replaced).
        """
        kind = Kind(kind)
        if len(frame) == 0:
            return 0, 0
        frame = frame.copy()
        frame[CONTENT] = [record_text(r, kind) for r in frame.to_dict("records")]
        texts = frame[CONTENT].tolist()
        tokens = [self.terms(t) for t in tqdm(texts, desc=f"segment {kind.value}s", disable=not show_progress)]
        vectors = self.embed(texts, show_progress=show_progress)
        if kind not in self.collections:
            self.collections[kind] = Collection(
                kind,
                vectors.shape[1],
                self.encoder.model_id,
                dense_backend=self.config.dense_backend,
                exact_limit=self.config.exact_limit,
                bm25_k1=self.config.bm25_k1,
                bm25_b=self.config.bm25_b,
                segmenter_config=self.segmenter.config,
            )
        coll = self.collections[kind]
        self._portfolio = self._held = self._chance = self._activity = self._reciprocal = self._data_hashes = None
        items, item_vectors = None, None
        if coll.items is not None:
            items = [split_items(t) for t in texts]
            new = coll.items.missing(items)
            item_vectors = dict(zip(new, self.embed(new, show_progress=show_progress)))
        return coll.upsert(frame, vectors, tokens, items, item_vectors)

    def delete(self, kind: Kind | str, ids: Sequence[str]) -> int:
        """Delete records of one kind by id (from records, FAISS and BM25)."""
        self._portfolio = self._held = self._chance = self._activity = self._reciprocal = self._data_hashes = None
        return self.collection(kind).delete(ids)

    # ----------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> None:
        """Save all collections atomically: the previous index stays intact until the new one is complete."""
        reciprocal = self.reciprocal if self.uses_reciprocal() else None  # computed before the swap starts
        with atomic_dir(directory) as tmp:
            for kind, coll in self.collections.items():
                coll.save(tmp / kind.value)
            if reciprocal is not None:
                reciprocal.save(tmp)

    @classmethod
    def load(cls, directory: str | Path, config: MatcherConfig | None = None, **kwargs) -> Matcher:
        """Load a saved index; its manifests must match the configured encoder.

        Raises:
            NotBuiltError: there is no index at `directory`.
            IndexMismatchError: the index was built with another encoder or dimension.
        """
        directory = Path(directory)
        recover_dir(directory)
        if not directory.is_dir():
            raise NotBuiltError(f"no index at {directory}: run `matcher build` first")
        matcher = cls(config, **kwargs)
        for kind in Kind:
            sub = directory / kind.value
            if sub.is_dir():
                matcher.collections[kind] = Collection.load(sub, model_id=matcher.encoder.model_id, kind=kind)
        if not matcher.collections:
            raise NotBuiltError(f"the index at {directory} is empty: run `matcher build` first")
        matcher._reciprocal = ReciprocalRanks.load(directory)  # used while its fingerprint matches
        return matcher

    # ----------------------------------------------------------------- queries
    def query_for(self, kind: Kind | str, record_id: str) -> Query:
        """A query made from a stored patent or enterprise."""
        kind = Kind(kind)
        record = self.collection(kind).record(record_id)
        return Query(text=record[CONTENT], kind=kind, id=record_id)

    def _query_vectors(self, queries: Sequence[Query]) -> np.ndarray:
        """Stored vectors for stored records, fresh (cached) embeddings for everything else."""
        out: list[np.ndarray | None] = [None] * len(queries)
        fresh = []
        for i, q in enumerate(queries):
            coll = self.collections.get(q.kind) if q.kind is not None else None
            if coll is not None and q.id is not None and q.id in coll:
                out[i] = coll.vectors([q.id])[0]
            else:
                fresh.append(i)
        if fresh:
            for i, vec in zip(fresh, self.embed([queries[i].text for i in fresh])):
                out[i] = vec
        return np.stack(out).astype(np.float32)

    def search(
        self,
        queries: Query | str | Sequence[Query | str],
        target: Kind | str,
        *,
        k: int | None = 10,
        filters: Mapping[str, str | Sequence[str]] | None = None,
        explain: bool = True,
        show_progress: bool = False,
    ) -> list[SearchResult]:
        """Rank records of `target` for each query.

        Args:
            queries: one or more queries (a plain string is free text).
            target: which records to rank ("patent" or "enterprise").
            k: results per query (None: the whole scored candidate pool, for tuning).
            filters: column -> accepted value(s) on the target records (see Collection.filter_rows).
            explain: attach shared key terms and the closest patent sentence to every match.
            show_progress: show progress bars.

        Returns:
            One SearchResult per query, in order.
        """
        target = Kind(target)
        coll = self.collection(target)
        if isinstance(queries, (str, Query)):
            queries = [queries]
        queries = [q if isinstance(q, Query) else Query(text=q) for q in queries]
        for q in queries:
            if not normalize(q.text):
                raise MatcherError("the query text is empty: give a demand or patent description")
        allowed = coll.filter_rows(filters)
        results: list[SearchResult] = []
        batches = range(0, len(queries), BATCH)
        for start in tqdm(batches, desc=f"rank {target.value}s", disable=not show_progress or len(batches) < 2):
            batch = queries[start : start + BATCH]
            results.extend(self._search_batch(batch, coll, k, allowed, explain))
        return results

    def _scorers(self, coll: Collection, direction: Direction, batch: Sequence[Query], vectors: np.ndarray,
                 terms: list[list[str]], own_rows: Sequence[int | None]) -> list[Scorer]:
        """The signals used for one direction: dense and BM25 always; literal phrases, best items, the
        enterprises' patent portfolios, their patent activity and (enterprise -> patent) the reciprocal ranks when
        weighted (and available)."""
        scorers: list[Scorer] = [DenseScorer(coll.dense, vectors), BM25Scorer(coll.lexical, terms)]
        weights = self.config.fusion_for(direction).weights
        if weights.get("portfolio") and len(self.portfolio):
            scorers.append(self._portfolio_scorer(coll, [r if q.kind not in (None, coll.kind) else None
                                                         for q, r in zip(batch, own_rows)], vectors))
        if weights.get("activity") and coll.kind == Kind.ENTERPRISE and len(self.activity):
            scorers.append(PriorScorer("activity", self.activity))
        if weights.get("reciprocal") and direction == Direction.ENTERPRISE_TO_PATENT and self.uses_reciprocal():
            scorers.append(ReciprocalScorer(self.reciprocal, [r if q.kind == Kind.ENTERPRISE else None
                                                              for q, r in zip(batch, own_rows)]))
        if weights.get("phrase"):
            scorers.append(PhraseScorer(coll.substrings, [self.query_phrases(q.text) for q in batch]))
        if weights.get("items"):
            if coll.items is not None:
                scorers.append(RecordItemScorer(coll.items, vectors, top_m=self.config.items_top_m))
            else:
                per_query = [split_items(q.text) for q in batch]
                unique = sorted({t for its in per_query for t in its})
                vecs = dict(zip(unique, self.embed(unique))) if unique else {}
                item_vectors = [np.array([vecs[t] for t in its], dtype=np.float32).reshape(-1, coll.dim) for its in per_query]
                scorers.append(QueryItemScorer(coll.dense, item_vectors, top_m=self.config.items_top_m))
        return scorers

    def _portfolio_scorer(self, coll: Collection, own_rows: Sequence[int | None], vectors: np.ndarray) -> Scorer:
        """The portfolio signal for queries from the other side (own_rows: their rows there, None if not stored)."""
        patents = self.collections[Kind.PATENT]
        if coll.kind == Kind.PATENT:  # enterprise -> patent: the patents the querying enterprise holds
            empty = np.empty(0, dtype=np.int64)
            held = [patents.dense.vectors(self.portfolio.patents_of(r) if r is not None else empty) for r in own_rows]
            return HeldPatentScorer(coll.dense, held, floor=self.portfolio_floor)
        held_rows = self.portfolio.held  # patent -> enterprise: the patents each enterprise holds
        if self._held is None:  # once per change of either collection, not per query batch
            self._held = (patents.dense.vectors(held_rows), [self.portfolio.owners_of(r) for r in held_rows],
                          {int(r): i for i, r in enumerate(held_rows)})
        held_vectors, owners, position = self._held
        skip = [position.get(r, -1) if r is not None else -1 for r in own_rows]
        return HolderScorer(held_vectors, owners, vectors, skip,
                            floor=self.portfolio_floor)

    def _own_row(self, query: Query) -> int | None:
        """The query's row in its own collection when it is a stored record."""
        coll = self.collections.get(query.kind) if query.kind is not None else None
        return int(coll.rows_of([query.id])[0]) if coll is not None and query.id is not None and query.id in coll else None

    def _excluded(self, query: Query, own_row: int | None, coll: Collection) -> list[int]:
        """Rows of `coll` that are no candidates for a query: the query record itself and (config `exclude_held`)
        the patents an enterprise already holds or the enterprises already holding a patent."""
        if own_row is None:
            return []
        if query.kind == coll.kind:
            return [own_row]
        if not self.config.exclude_held:
            return []
        held = self.portfolio.patents_of(own_row) if coll.kind == Kind.PATENT else self.portfolio.owners_of(own_row)
        return held.tolist()

    def _search_batch(self, batch: Sequence[Query], coll: Collection, k: int | None, allowed, explain: bool) -> list[SearchResult]:
        vectors = self._query_vectors(batch)
        terms = [self.query_terms(q.text, direction_of(q.kind, coll.kind)) for q in batch]
        own_rows = [self._own_row(q) for q in batch]
        exclude = [self._excluded(q, r, coll) for q, r in zip(batch, own_rows)]
        # a query's `exclude` ids are dropped from the finished ranking, so the other targets keep their scores and order
        hidden = [set(coll.rows_of([i for i in q.exclude if i in coll]).tolist()) if q.exclude else set() for q in batch]
        by_direction: dict[Direction, list[int]] = {}
        for i, q in enumerate(batch):
            by_direction.setdefault(direction_of(q.kind, coll.kind), []).append(i)
        rankings: dict[int, Ranking] = {}
        for direction, idx in by_direction.items():
            sub = [batch[i] for i in idx]
            scorers = self._scorers(coll, direction, sub, vectors[idx], [terms[i] for i in idx], [own_rows[i] for i in idx])
            retriever = HybridRetriever(len(coll), scorers, make_fusion(self.config.fusion_for(direction)), pool=self.config.pool)
            deeper = None if k is None else k + max(len(hidden[i]) for i in idx)
            found = retriever.retrieve(len(idx), deeper, allowed=allowed, exclude=[exclude[i] for i in idx])
            for i, ranking in zip(idx, found):
                ranking.hits = [h for h in ranking.hits if h.row not in hidden[i]][:k]
                rankings[i] = ranking
        hit_rows = [h.row for i in range(len(batch)) for h in rankings[i].hits]
        records = iter(coll.records.loc[hit_rows].to_dict("records")) if hit_rows else iter(())
        results = []
        for i, q in enumerate(batch):
            matches = []
            for r, h in enumerate(rankings[i].hits):
                record = next(records)
                matches.append(Match(rank=r + 1, target_id=str(record["id"]), score=h.score, components=h.components,
                                     ranks=h.ranks, record=record))
            results.append(SearchResult(q, coll.kind, matches, rankings[i].available))
        if explain:
            self._explain(results, vectors, terms, coll)
            self._explain_held(results, vectors, own_rows, coll)
        return results

    def explain(self, results: Sequence[SearchResult]) -> None:
        """Attach explanations to results searched with `explain=False`, e.g. once a batch has chosen which of many
        candidates to keep (matcher.export's exposure cap): the same shared key terms, closest patent sentence and
        closest held patent that `search` attaches. Only `query`, `target` and each match's `target_id` and
        `record` are read."""
        for kind in {res.target for res in results}:
            group = [res for res in results if res.target == kind]
            coll = self.collection(kind)
            batch = [res.query for res in group]
            vectors = self._query_vectors(batch)
            terms = [self.query_terms(q.text, direction_of(q.kind, coll.kind)) for q in batch]
            self._explain(group, vectors, terms, coll)
            self._explain_held(group, vectors, [self._own_row(q) for q in batch], coll)

    def _explain(self, results: list[SearchResult], vectors: np.ndarray, terms: list[list[str]], coll: Collection) -> None:
        idf = coll.lexical.term_idf(sorted({t for ts in terms for t in ts}))
        patent_texts, other_vectors, slots = [], [], []
        for i, res in enumerate(results):
            for m in res.matches:
                m.explanation = Explanation(shared_key_terms(terms[i], self.terms(m.record[CONTENT]), idf, self.config.key_terms), "", 0.0)
                if coll.kind == Kind.PATENT:
                    patent_texts.append(m.record[CONTENT])
                    other_vectors.append(vectors[i])
                elif res.query.kind == Kind.PATENT:
                    patent_texts.append(res.query.text)
                    other_vectors.append(coll.dense.vectors(coll.rows_of([m.target_id]))[0])
                else:
                    continue
                slots.append(m)
        if slots:
            located = SentenceLocator(self.encoder).closest(patent_texts, np.stack(other_vectors))
            for m, (sentence, sim) in zip(slots, located):
                m.explanation.closest_sentence = sentence
                m.explanation.sentence_similarity = sim

    def _explain_held(self, results: list[SearchResult], vectors: np.ndarray, own_rows: Sequence[int | None],
                      coll: Collection) -> None:
        """Name, for each pair of an enterprise and a patent, the enterprise's own patent closest to that patent
        (when its similarity is above the portfolio floor, i.e. when it counted in the portfolio signal)."""
        if not len(self.portfolio):
            return
        patents = self.collections[Kind.PATENT]
        for res, vector, own in zip(results, vectors, own_rows):
            if res.query.kind in (None, coll.kind) or (own is None and coll.kind == Kind.PATENT):
                continue
            for m in res.matches:
                if coll.kind == Kind.PATENT:  # the querying enterprise's patents against the matched patent
                    held = self.portfolio.patents_of(own)
                else:  # the matched enterprise's patents against the querying patent
                    held = self.portfolio.patents_of(coll.rows_of([m.target_id])[0])
                    held = held[held != own] if own is not None else held
                if len(held) == 0 or m.explanation is None:
                    continue
                target = patents.dense.vectors(patents.rows_of([m.target_id]))[0] if coll.kind == Kind.PATENT else vector
                sims = patents.dense.vectors(held) @ target
                best = int(np.argmax(sims))
                if sims[best] <= self.portfolio_floor:  # only a held patent that counted is named
                    continue
                m.explanation.held_patent = str(patents.records.loc[held[best], "title"])
                m.explanation.held_similarity = float(sims[best])
