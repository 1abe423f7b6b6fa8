"""The matching engine: patents and enterprises indexed side by side, ranked and explained in both directions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from matcher.config import Direction, MatcherConfig
from matcher.encode import Encoder, load_encoder, with_cache
from matcher.errors import IndexMismatchError, MatcherError, NotBuiltError
from matcher.explain import Explainer
from matcher.grading.term import pushable_rows
from matcher.grading.tiers import TIER_FILTER, graded_pushable_rows, tier_rows
from matcher.index.atomic import KeptChangingError, atomic_dir, fault_point, read_stable, readable_dir, recover_dir
from matcher.index.changes import RecordChanges
from matcher.index.collection import CONTENT, Collection
from matcher.index.dense import DenseIndex
from matcher.index.lock import held, writer_lock
from matcher.index.manifest import read_manifest
from matcher.index.stored_config import resolve_config, write_config
from matcher.rank.activity_scores import ActivityScores
from matcher.rank.confidence import ConfidenceModel, attach, pair_features
from matcher.rank.fusion import make_fusion
from matcher.rank.reciprocal import ReciprocalRanks
from matcher.rank.retriever import HybridRetriever, Ranking
from matcher.results import Match, Query, SearchResult, direction_of
from matcher.schema import Kind, record_text
from matcher.signals import BATCH, QueryBatch, Signals
from matcher.text.boilerplate import embedding_text
from matcher.text.interning import one_object_each
from matcher.text.items import split_items
from matcher.text.normalize import normalize
from matcher.text.phrases import query_phrases
from matcher.text.segment import Segmenter

__all__ = ["Match", "Matcher", "Query", "SearchResult", "direction_of"]

logger = logging.getLogger(__name__)


class Matcher:
    """Builds, updates, saves, loads and queries the two collections (patents and enterprises).

    The ranking signals that link both collections live in `signals` (cached, invalidated on every change of the
    records); the evidence of each match is attached by `explainer` (matcher.explain).

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
        self._collections: dict[Kind, Collection] = {}
        self.signals = Signals(self)
        self.explainer = Explainer(self)
        self._terms = lru_cache(maxsize=200_000)(self.segmenter.tokens)
        self._query_terms = lru_cache(maxsize=50_000)(self.segmenter.tokens)
        self._query_phrases = lru_cache(maxsize=50_000)(partial(query_phrases, segmenter=self.segmenter))
        self.confidence = ConfidenceModel.for_config(self.config)

    # ----------------------------------------------------------------- components
    @property
    def encoder(self) -> Encoder:
        """The (disk-cached) encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = load_encoder(self.config.encoder)
        self._encoder = with_cache(self._encoder, self.config.cache_dir)  # no-op once cached
        return self._encoder

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The kinds that have a collection (built, possibly emptied since), in the order they were built."""
        return tuple(self._collections)

    def has(self, kind: Kind | str) -> bool:
        """Whether a collection of this kind has been built (it may have been emptied since)."""
        return Kind(kind) in self._collections

    def get(self, kind: Kind | str) -> Collection | None:
        """The collection of one kind, even an emptied one; None when none has been built."""
        return self._collections.get(Kind(kind))

    def collection(self, kind: Kind | str) -> Collection:
        """The collection of one kind (NotBuiltError when it has not been built or holds no records)."""
        kind = Kind(kind)
        if kind not in self._collections or len(self._collections[kind]) == 0:
            raise NotBuiltError(f"no {kind.value}s are indexed yet: run `matcher build` with {kind.value} data")
        return self._collections[kind]

    def count(self, kind: Kind | str | None = None) -> int:
        """The number of indexed records of one kind (0 when none), or of both kinds."""
        if kind is None:
            return sum(len(c) for c in self._collections.values())
        coll = self.get(kind)
        return len(coll) if coll is not None else 0

    def grades(self) -> pd.DataFrame | None:
        """The patents' grades (`matcher grade --index DIR`, matcher.grading.grades), read once; None when the index
        was never graded."""
        return self.signals.grades()

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
        tokens = self.segmenter.tokens_many(texts)  # one process per core for large inputs
        vectors = self.embed(texts, show_progress=show_progress)
        if kind not in self._collections:
            self._collections[kind] = Collection(
                kind,
                vectors.shape[1],
                self.encoder.model_id,
                dense_backend=self.config.dense_backend,
                exact_limit=self.config.exact_limit,
                vector_storage=self.config.vector_storage,
                bm25_k1=self.config.bm25_k1,
                bm25_b=self.config.bm25_b,
                segmenter_config=self.segmenter.config,
            )
            self._collections[kind].set_nprobe(self.config.ivf_nprobe)
        coll = self._collections[kind]
        vectors = coll.dense.as_stored(vectors)
        self.signals.invalidate()
        items, new_items, item_vectors = None, [], None
        if coll.items is not None:
            items = one_object_each((split_items(t) for t in texts), {})  # one object per distinct item
            new_items = coll.items.missing(items)
            item_vectors = coll.items.dense.as_stored(self.embed(new_items, show_progress=show_progress))
        return coll.upsert(frame, vectors, tokens, items, new_items, item_vectors, handed_over=True)

    def delete(self, kind: Kind | str, ids: Sequence[str]) -> int:
        """Delete records of one kind by id (from records, FAISS and BM25)."""
        self.signals.invalidate()
        return self.collection(kind).delete(ids)

    def apply(self, changes: RecordChanges, *, show_progress: bool = False) -> None:
        """Make one kind's collection hold the records `changes` were computed for (`matcher.index.changes`): index
        the new and changed records, delete the ones that are gone."""
        self.index(changes.kind, changes.upserts, show_progress=show_progress)
        if changes.deletions:
            self.delete(changes.kind, changes.deletions)

    def drop(self, kind: Kind | str) -> int:
        """Remove a whole collection (the next `save` leaves it out); returns how many records it held."""
        self.signals.invalidate()
        coll = self._collections.pop(Kind(kind), None)
        return len(coll) if coll is not None else 0

    # ----------------------------------------------------------------- persistence
    @staticmethod
    def lock(directory: str | Path, *, timeout: float | None = None,
             on_wait: Callable[[str], None] | None = None) -> AbstractContextManager[None]:
        """The exclusive writer lock of an index folder (`matcher.index.lock.writer_lock`, re-entrant in a thread).

        Every writer holds it around load -> change -> `save`, so that concurrent writers apply their changes one
        after the other, each to the latest saved index; `load` under it first repairs a swap a crashed writer left.

        Args:
            directory: the index folder.
            timeout: seconds to wait for another writer (None: env MATCHER_LOCK_TIMEOUT, else 600).
            on_wait: called once with "waiting for another writer of INDEX (pid N) ..." when it has to wait.

        Returns:
            A context manager holding the lock for its body (MatcherError when not free within the timeout).
        """
        return writer_lock(directory, timeout=timeout, on_wait=on_wait)

    def save(self, directory: str | Path, *, lock_timeout: float | None = None) -> None:
        """Save all collections and the configuration (`config.json`) atomically under the writer lock (`lock`): the
        previous index stays intact until the new one is complete.

        Raises:
            MatcherError: the lock was not free in time, or the folder cannot be written (the previous index is kept).
        """
        reciprocal = self.signals.reciprocal if self.signals.uses_reciprocal() else None  # ranked before the swap
        activity = self.signals.activity_scores()
        try:
            with writer_lock(directory, timeout=lock_timeout, on_wait=logger.warning), atomic_dir(directory) as tmp:
                for kind, coll in self._collections.items():
                    coll.save(tmp / kind.value)
                if reciprocal is not None:
                    reciprocal.save(tmp)
                if activity is not None:
                    activity.save(tmp)
                write_config(tmp, self.config)
        except OSError as exc:
            raise MatcherError(f"cannot save the index at {directory} ({exc}); the previous index is unchanged") from None

    @classmethod
    def load(cls, directory: str | Path, config: MatcherConfig | None = None, **kwargs) -> Matcher:
        """Load a saved index with the configuration saved in it.

        A reader (no writer lock held) never repairs the folder: it reads the last complete copy and reads again
        when a writer swapped the index meanwhile (`matcher.index.atomic.read_stable`); swapped under at every try
        (writers one after the other), it takes its turn in the writers' lock to read. Under the writer lock
        (`lock`) an interrupted swap is repaired first.

        Args:
            directory: the index folder.
            config: settings to apply (see `matcher.index.stored_config.resolve_config`): the fields it sets must
                agree with the index where they change it (encoder, segmentation, BM25, dense backend) and override
                the saved ranking settings (fusion, pool, activity model, ...). None: the saved configuration
                (the defaults for an index saved without one).
            **kwargs: `encoder` / `segmenter` to use instead of the configured ones.

        Raises:
            NotBuiltError: there is no index at `directory`.
            IndexMismatchError: `config` conflicts with the index, or the index was built with another encoder,
                dimension or segmenter.
            MatcherError: the index is damaged, or kept changing while it was read.
        """
        directory = Path(directory)
        if held(directory):
            _recover(directory)
            matcher = cls._read(directory, directory, config, **kwargs)
            fault_point("writer:loaded")
            return matcher
        try:
            return read_stable(directory, lambda source: cls._read(directory, source, config, **kwargs),
                               errors=(MatcherError, OSError, ValueError))
        except KeptChangingError:  # writers one after the other: read between two of them, in the writers' queue
            with writer_lock(directory, on_wait=logger.info):
                return cls.load(directory, config, **kwargs)
        except (OSError, ValueError) as exc:
            raise MatcherError(f"cannot read the index at {directory} ({exc})") from None

    @classmethod
    def _read(cls, directory: Path, source: Path, config: MatcherConfig | None, **kwargs) -> Matcher:
        """Load the index files in `source` (the folder, or its backup while a swap is under way)."""
        if not source.is_dir():
            raise NotBuiltError(f"no index at {directory}: run `matcher build` first")
        matcher = cls(resolve_config(source, config), **kwargs)
        for kind in Kind:
            sub = source / kind.value
            if sub.is_dir():
                matcher._collections[kind] = Collection.load(sub, model_id=matcher.encoder.model_id, kind=kind,
                                                             segmenter=matcher.segmenter.config)
                matcher._collections[kind].set_nprobe(matcher.config.ivf_nprobe)
        if not matcher._collections:
            raise NotBuiltError(f"the index at {directory} is empty: run `matcher build` first")
        matcher.signals.restore(ReciprocalRanks.load(source), ActivityScores.load(source))
        matcher.signals.use_grades(directory)  # the "grade" prior reads the index's grades (`matcher grade --index`)
        return matcher

    def dense_indexes(self) -> dict[str, DenseIndex]:
        """Every dense index, by name: each side's ("patent", "enterprise") and its scope items' ("enterprise_items")."""
        found = {}
        for kind, coll in self._collections.items():
            found[kind.value] = coll.dense
            if coll.items is not None:
                found[f"{kind.value}_items"] = coll.items.dense
        return found

    def mapped_files(self) -> list[Path]:
        """The index files this matcher reads through memory maps (the vectors of each side and of its scope items)."""
        return [f for dense in self.dense_indexes().values() for f in dense.mapped_files]

    @staticmethod
    def stored_counts(directory: str | Path) -> dict[Kind, int]:
        """The number of records of each kind saved in an index folder, from its manifests ({} when there is none)."""
        source = readable_dir(directory)
        counts = {}
        for kind in Kind:
            if (source / kind.value).is_dir():
                try:
                    counts[kind] = read_manifest(source / kind.value).rows
                except MatcherError:
                    continue
        return counts

    def keep(self, directory: str | Path, kinds: Iterable[Kind | str]) -> dict[Kind, int]:
        """Take over the saved records of `kinds` from the index at `directory`, for a build that replaces only the
        other kinds. Call it under the writer lock (`lock`), so that what is kept is the latest saved state.

        Args:
            directory: the index folder (nothing is kept when there is none).
            kinds: the kinds to keep; those the index does not hold are skipped.

        Returns:
            kind -> records kept.

        Raises:
            MatcherError: a kept side was indexed with another encoder, segmenter or BM25 settings than this
                matcher's (it would not be comparable), or is damaged.
        """
        directory = Path(directory)
        if held(directory):
            _recover(directory)
        source = readable_dir(directory)
        kept: dict[Kind, int] = {}
        for kind in map(Kind, kinds):
            sub = source / kind.value
            if not sub.is_dir():
                continue
            try:
                coll = Collection.load(sub, model_id=self.encoder.model_id, kind=kind, segmenter=self.segmenter.config)
                if (coll.lexical.k1, coll.lexical.b) != (self.config.bm25_k1, self.config.bm25_b):
                    raise IndexMismatchError(f"its BM25 k1 / b are {coll.lexical.k1} / {coll.lexical.b}, this build's "
                                             f"{self.config.bm25_k1} / {self.config.bm25_b}")
            except MatcherError as exc:
                raise MatcherError(f"cannot keep the {kind.value}s of the index at {directory} ({exc}): index them "
                                   "again with this build, or replace the whole index (`matcher build --replace-all`)") from None
            self._collections[kind] = coll
            kept[kind] = len(coll)
        self.signals.invalidate()
        fault_point("writer:loaded")
        return kept

    # ----------------------------------------------------------------- queries
    def query_for(self, kind: Kind | str, record_id: str) -> Query:
        """A query made from a stored patent or enterprise."""
        kind = Kind(kind)
        record = self.collection(kind).record(record_id)
        return Query(text=record[CONTENT], kind=kind, id=record_id)

    def search(
        self,
        queries: Query | str | Sequence[Query | str],
        target: Kind | str,
        *,
        k: int = 10,
        filters: Mapping[str, str | Sequence[str]] | None = None,
        explain: bool = True,
        show_progress: bool = False,
    ) -> list[SearchResult]:
        """Rank records of `target` for each query.

        Args:
            queries: one or more queries (a plain string is free text).
            target: which records to rank ("patent" or "enterprise").
            k: results per query.
            filters: column -> accepted value(s) on the target records (see Collection.filter_rows).
            explain: attach shared key terms, the closest patent sentence and the closest held patent to every
                match (or later, for the matches kept, with `explain`).
            show_progress: show progress bars.

        Returns:
            One SearchResult per query, in order.
        """
        return self._search(queries, target, k, filters, explain, show_progress)

    def candidate_pools(self, queries: Query | str | Sequence[Query | str], target: Kind | str) -> list[SearchResult]:
        """Every query's whole candidate pool, unexplained: the union of each signal's top-`config.pool`, scored by
        every signal and in fused order. Fusion tuning re-fuses these components offline (matcher.lab.tuning).

        Args:
            queries: one or more queries (a plain string is free text).
            target: which records to rank.

        Returns:
            One SearchResult per query, in order.
        """
        return self._search(queries, target, None, None, False, False)

    def explain(self, results: Sequence[SearchResult]) -> None:
        """Attach explanations to results searched with `explain=False`, e.g. once a batch has chosen which of many
        candidates to keep (matcher.export's exposure cap): the same shared key terms, closest patent sentence and
        closest held patent that `search` attaches. Only `query`, `target` and each match's `target_id` and
        `record` are read."""
        for kind in {res.target for res in results}:
            group = [res for res in results if res.target == kind]
            coll = self.collection(kind)
            self.explainer.attach(group, self._prepare([res.query for res in group], coll))

    def pair_features(self, results: Sequence[SearchResult]) -> list[np.ndarray]:
        """The confidence features of every result's matches (matcher.rank.confidence.pair_features), in order."""
        out = []
        for res in results:
            coll = self.collection(res.target)
            terms = self.query_terms(res.query.text, direction_of(res.query.kind, res.target))
            docs = coll.stored_terms([m.target_id for m in res.matches])
            idf = coll.lexical.term_idf(sorted(set(terms).union(*docs)))
            out.append(pair_features(res.matches, terms, docs, idf))
        return out

    def _search(self, queries: Query | str | Sequence[Query | str], target: Kind | str, k: int | None,
                filters: Mapping[str, str | Sequence[str]] | None, explain: bool, show_progress: bool) -> list[SearchResult]:
        """`search` (k None: the whole candidate pools)."""
        target = Kind(target)
        coll = self.collection(target)
        if isinstance(queries, (str, Query)):
            queries = [queries]
        queries = [q if isinstance(q, Query) else Query(text=q) for q in queries]
        for q in queries:
            if not normalize(q.text):
                raise MatcherError("the query text is empty: give a demand or patent description")
        tiers = (filters or {}).get(TIER_FILTER) if target == Kind.PATENT else None
        if tiers is not None:  # the tiers live in the grades table, not in the records
            filters = {c: v for c, v in filters.items() if c != TIER_FILTER}
        allowed = coll.filter_rows(filters)
        if tiers:
            allowed = tier_rows(coll.records, self.grades(), [tiers] if isinstance(tiers, str) else tiers, allowed)
        if target == Kind.PATENT and self.config.only_pushable:  # expired, withdrawn, invalid or merged duplicates: not pushed
            allowed = graded_pushable_rows(coll.records, self.grades(), pushable_rows(coll.records, allowed))
        results: list[SearchResult] = []
        batches = range(0, len(queries), BATCH)
        for start in tqdm(batches, desc=f"rank {target.value}s", disable=not show_progress or len(batches) < 2):
            results.extend(self._search_batch(queries[start : start + BATCH], coll, k, allowed, explain))
        return results

    def _prepare(self, queries: Sequence[Query], coll: Collection) -> QueryBatch:
        """Vectors (stored ones for stored records), direction-specific terms and own rows of a batch of queries."""
        vectors = self._query_vectors(queries)
        stored = self._stored_text_rows(queries)
        return QueryBatch(list(queries), coll, vectors, self._query_term_lists(queries, stored, coll),
                          [self._own_row(q) for q in queries], stored)

    def _stored_text_rows(self, queries: Sequence[Query]) -> list[int | None]:
        """Per query, its row in its own collection when it is a stored record asked with its stored text (as the
        nightly job and the reciprocal lists ask), else None."""
        rows = [self._own_row(q) for q in queries]
        return [row if row is not None and self._collections[q.kind].records.at[row, CONTENT] == q.text else None
                for q, row in zip(queries, rows)]

    def _query_term_lists(self, queries: Sequence[Query], stored: Sequence[int | None], coll: Collection) -> list[list[str]]:
        """Each query's BM25 terms for ranking `coll`: a stored record asked with its stored text (`stored`), in a
        direction whose query mode is the mode its side was indexed in (every side is indexed with this engine's
        segmenter, checked on load), reads its indexed tokens (the multiset segmenting its text gives, which is all
        BM25 counts); any other query is segmented."""
        out: list[list[str] | None] = [None] * len(queries)
        positions: dict[Kind, list[int]] = {}
        for i, (q, row) in enumerate(zip(queries, stored)):
            if row is not None and self.config.fusion_for(direction_of(q.kind, coll.kind)).query_segment_mode == self.segmenter.mode:
                positions.setdefault(q.kind, []).append(i)
        for kind, idx in positions.items():
            for i, tokens in zip(idx, self._collections[kind].lexical.doc_tokens(np.array([stored[i] for i in idx]))):
                out[i] = tokens
        return [terms if terms is not None else self.query_terms(q.text, direction_of(q.kind, coll.kind))
                for q, terms in zip(queries, out)]

    def _query_vectors(self, queries: Sequence[Query]) -> np.ndarray:
        """Stored vectors for stored records, fresh (cached) embeddings for everything else."""
        out: list[np.ndarray | None] = [None] * len(queries)
        fresh = []
        for i, q in enumerate(queries):
            coll = self._collections.get(q.kind) if q.kind is not None else None
            if coll is not None and q.id is not None and q.id in coll:
                out[i] = coll.vectors([q.id])[0]
            else:
                fresh.append(i)
        if fresh:
            for i, vec in zip(fresh, self.embed([queries[i].text for i in fresh])):
                out[i] = vec
        return np.stack(out).astype(np.float32)

    def _own_row(self, query: Query) -> int | None:
        """The query's row in its own collection when it is a stored record."""
        coll = self._collections.get(query.kind) if query.kind is not None else None
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
        portfolio = self.signals.portfolio
        held = portfolio.patents_of(own_row) if coll.kind == Kind.PATENT else portfolio.owners_of(own_row)
        return held.tolist()

    def ranked_rows(self, queries: Sequence[Query], target: Kind | str, *, k: int) -> list[np.ndarray]:
        """Each query's top-k rows of `target`, best first, exactly as `search` ranks them, without records, scores,
        confidence or explanations (e.g. every patent's 1,000-deep list of enterprises for the reciprocal signal).

        Args:
            queries: the queries.
            target: which records to rank.
            k: rows per query.

        Returns:
            One int64 array of target rows per query, in order.
        """
        coll = self.collection(target)
        out: list[np.ndarray] = []
        for start in range(0, len(queries), BATCH):
            batch = self._prepare(queries[start : start + BATCH], coll)
            out.extend(r.rows for r in self._rankings(batch, k, None, rows_only=True))
        return out

    def _rankings(self, batch: QueryBatch, k: int | None, allowed: np.ndarray | None, *,
                  rows_only: bool = False) -> list[Ranking]:
        """Every query's ranking of `batch.coll` (hits, or with `rows_only` only the rows, best first)."""
        queries, coll = batch.queries, batch.coll
        exclude = [self._excluded(q, r, coll) for q, r in zip(queries, batch.own_rows)]
        # a query's `exclude` ids are dropped from the finished ranking, so the other targets keep their scores and order
        hidden = [set(coll.rows_of([i for i in q.exclude if i in coll]).tolist()) if q.exclude else set() for q in queries]
        by_direction: dict[Direction, list[int]] = {}
        for i, q in enumerate(queries):
            by_direction.setdefault(direction_of(q.kind, coll.kind), []).append(i)
        rankings: dict[int, Ranking] = {}
        for direction, idx in by_direction.items():
            scorers = self.signals.scorers(batch.subset(idx), direction)
            retriever = HybridRetriever(len(coll), scorers, make_fusion(self.config.fusion_for(direction)), pool=self.config.pool)
            deeper = None if k is None else k + max(len(hidden[i]) for i in idx)
            found = retriever.retrieve(len(idx), deeper, allowed=allowed, exclude=[exclude[i] for i in idx],
                                       rows_only=rows_only)
            for i, ranking in zip(idx, found):
                ranking.drop(hidden[i], k)
                rankings[i] = ranking
        return [rankings[i] for i in range(len(queries))]

    def _search_batch(self, queries: Sequence[Query], coll: Collection, k: int | None, allowed: np.ndarray | None,
                      explain: bool) -> list[SearchResult]:
        batch = self._prepare(queries, coll)
        rankings = self._rankings(batch, k, allowed)
        hit_rows = [h.row for ranking in rankings for h in ranking.hits]
        records = iter(coll.records.loc[hit_rows].to_dict("records")) if hit_rows else iter(())
        results = []
        for q, ranking in zip(queries, rankings):
            matches = []
            for r, h in enumerate(ranking.hits):
                record = next(records)
                matches.append(Match(rank=r + 1, target_id=str(record["id"]), score=h.score, components=h.components,
                                     record=record))
            results.append(SearchResult(q, coll.kind, matches, ranking.available))
        if self.confidence is not None and k is not None:  # confidence never reorders
            attach(results, self.pair_features(results), self.confidence)
        if explain:
            self.explainer.attach(results, batch)
        return results


def _recover(directory: Path) -> None:
    """Repair what a crashed writer left (only under the writer lock)."""
    try:
        recover_dir(directory)
    except OSError as exc:
        raise MatcherError(f"cannot repair the index at {directory} after an interrupted write ({exc})") from None
