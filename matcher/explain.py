"""Why a pair matched: component scores, shared key terms, the closest patent sentence and held patent."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from matcher.encode import Encoder
from matcher.index.collection import CONTENT
from matcher.results import Explanation, SearchResult
from matcher.schema import Kind
from matcher.signals import Engine, QueryBatch
from matcher.text.sentences import split_sentences

__all__ = ["Explainer", "Explanation", "SentenceLocator", "generic_terms", "shared_key_terms"]

GENERIC_TERMS = Path(__file__).resolve().parent / "text" / "resources" / "generic_terms.txt"
"""Business-generic words (生产, 提升, 材料, 结构, 工艺, 技术, 方法, 系统, 装置 ...) never shown as evidence."""

MIN_EVIDENCE_IDF = 1.0
"""Shared terms with a lower IDF in the ranked collection (words most records hold) are not shown as evidence (the
confidence model's informative-term floor, matcher.rank.confidence.MIN_TERM_IDF)."""


@functools.cache
def generic_terms() -> frozenset[str]:
    """The business-generic stoplist of shared-term evidence (one word a line, '#' comments)."""
    lines = GENERIC_TERMS.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in (line.split("#")[0].strip() for line in lines) if w)


def shared_key_terms(
    query_terms: Sequence[str], doc_terms: Sequence[str], idf: Mapping[str, float], limit: int = 5, min_chars: int = 2,
    min_idf: float = MIN_EVIDENCE_IDF,
) -> list[str]:
    """The informative terms present in both texts, ranked by IDF, without terms contained in a longer chosen term.

    Args:
        query_terms: terms of one side.
        doc_terms: terms of the other side.
        idf: term -> IDF in the ranked collection (unknown terms count 0).
        limit: how many terms to return.
        min_chars: shorter terms (single characters such as 混, 共) are not shown as evidence.
        min_idf: terms with a lower IDF (held by most records) are not shown; nor are the `generic_terms`.

    Returns:
        Up to `limit` shared terms, most informative first.
    """
    generic = generic_terms()
    common = {t for t in set(query_terms) & set(doc_terms)
              if len(t) >= min_chars and t not in generic and idf.get(t, 0.0) >= min_idf}
    ranked = sorted(common, key=lambda t: (-idf.get(t, 0.0), -len(t), t))
    chosen: list[str] = []
    for term in ranked:
        if any(term in c for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


MEMO_SENTENCES = 20_000
"""Patent sentence vectors a `SentenceLocator` keeps in memory, the most recently used (about 60 MB at 768
dimensions): the nightly job explains the same popular patents in list after list, and reading each of their
sentences from the embedding cache again cost about an eighth of an enterprise's list."""


class SentenceLocator:
    """Finds, for a patent text and a vector of the other side, the patent sentence closest to it.

    Sentences are embedded with the engine's (cached) encoder, so each patent's sentences are
    embedded once and reused across runs; the most recently used ones stay in memory.

    Args:
        encoder: the encoder used for the collection vectors.
        memo_sentences: how many sentence vectors stay in memory.
    """

    def __init__(self, encoder: Encoder, memo_sentences: int = MEMO_SENTENCES) -> None:
        self.encoder = encoder
        self.memo_sentences = memo_sentences
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()  # sentence -> vector, most recently used last
        self._lock = threading.Lock()  # the workbench's sessions explain on one engine

    def closest(self, patent_texts: Sequence[str], other_vectors: np.ndarray) -> list[tuple[str, float]]:
        """For each (patent text, other-side vector) pair, the closest patent sentence.

        Args:
            patent_texts: patent texts (title and abstract).
            other_vectors: (n, dim) L2-normalised vectors of the enterprise / query side.

        Returns:
            (sentence, cosine similarity) per pair; ("", 0.0) for an empty text.
        """
        split = [split_sentences(t) for t in patent_texts]
        unique = sorted({s for sents in split for s in sents})
        if not unique:
            return [("", 0.0)] * len(split)
        vecs = self._vectors(unique)
        pos = {s: i for i, s in enumerate(unique)}
        out = []
        for sents, vec in zip(split, other_vectors):
            if not sents:
                out.append(("", 0.0))
                continue
            sims = vecs[[pos[s] for s in sents]] @ vec
            best = int(np.argmax(sims))
            out.append((sents[best], float(sims[best])))
        return out

    def _vectors(self, sentences: list[str]) -> np.ndarray:
        """The sentences' vectors (rows in order): kept ones from memory, the others from the encoder in one call."""
        with self._lock:
            kept = [self._memo.get(s) for s in sentences]
        missing = [s for s, v in zip(sentences, kept) if v is None]
        fresh = {s: v.copy() for s, v in zip(missing, self.encoder.encode(missing))} if missing else {}
        with self._lock:
            for s, v in zip(sentences, kept):
                if v is None:
                    self._memo[s] = fresh[s]
                elif s in self._memo:  # another session may have dropped it meanwhile
                    self._memo.move_to_end(s)
            while len(self._memo) > self.memo_sentences:
                self._memo.popitem(last=False)
        return np.stack([fresh[s] if v is None else v for s, v in zip(sentences, kept)])


class Explainer:
    """Attaches the evidence of every match: shared key terms, the closest patent sentence and, for an enterprise and
    a patent, the enterprise's own patent closest to that patent.

    Args:
        engine: the engine (its encoder embeds the patent sentences, its segmenter gives record terms, its signals
            the portfolio and its floor).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._locator: SentenceLocator | None = None

    @property
    def locator(self) -> SentenceLocator:
        """The sentence locator of the engine's current encoder (its memory kept from one call to the next)."""
        encoder = self.engine.encoder
        if self._locator is None or self._locator.encoder is not encoder:
            self._locator = SentenceLocator(encoder)
        return self._locator

    def attach(self, results: Sequence[SearchResult], batch: QueryBatch) -> None:
        """Explain every match of `results` in place.

        Args:
            results: one result per query of `batch`, in order (only each match's `target_id` and `record` are read).
            batch: the queries, prepared for the ranked collection.
        """
        self._terms_and_sentences(results, batch)
        self._held_patents(results, batch)

    def _terms_and_sentences(self, results: Sequence[SearchResult], batch: QueryBatch) -> None:
        coll, terms, vectors = batch.coll, batch.terms, batch.vectors
        idf = coll.lexical.term_idf(sorted({t for ts in terms for t in ts}))
        limit = self.engine.config.key_terms
        patent_texts, other_vectors, slots = [], [], []
        for i, res in enumerate(results):
            stored = coll.stored_terms([m.target_id for m in res.matches])
            for m, doc_terms in zip(res.matches, stored):
                m.explanation = Explanation(shared_key_terms(terms[i], doc_terms, idf, limit), "", 0.0)
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
            located = self.locator.closest(patent_texts, np.stack(other_vectors))
            for m, (sentence, sim) in zip(slots, located):
                m.explanation.closest_sentence = sentence
                m.explanation.sentence_similarity = sim

    def _held_patents(self, results: Sequence[SearchResult], batch: QueryBatch) -> None:
        """Name, for each pair of an enterprise and a patent, the enterprise's own patent closest to that patent
        (when its similarity is above the portfolio floor, i.e. when it counted in the portfolio signal)."""
        signals = self.engine.signals
        portfolio = signals.portfolio
        if not len(portfolio):
            return
        coll = batch.coll
        patents = self.engine.get(Kind.PATENT)
        for res, vector, own in zip(results, batch.vectors, batch.own_rows):
            if res.query.kind in (None, coll.kind) or (own is None and coll.kind == Kind.PATENT):
                continue
            for m in res.matches:
                if coll.kind == Kind.PATENT:  # the querying enterprise's patents against the matched patent
                    held = portfolio.patents_of(own)
                else:  # the matched enterprise's patents against the querying patent
                    held = portfolio.patents_of(coll.rows_of([m.target_id])[0])
                    held = held[held != own] if own is not None else held
                if len(held) == 0 or m.explanation is None:
                    continue
                target = patents.dense.vectors(patents.rows_of([m.target_id]))[0] if coll.kind == Kind.PATENT else vector
                sims = patents.dense.vectors(held) @ target
                best = int(np.argmax(sims))
                if sims[best] <= signals.portfolio_floor:  # only a held patent that counted is named
                    continue
                m.explanation.held_patent = str(patents.records.loc[held[best], "title"])
                m.explanation.held_similarity = float(sims[best])
