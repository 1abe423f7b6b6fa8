"""Fusion tuning on BEIR benchmarks: collect candidate pools with component scores once, re-fuse many ways."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.config import FusionConfig
from matcher.engine import Matcher, Query
from matcher.evaluate import Benchmark, corpus_frame, load_beir, score_run, sides
from matcher.rank.fusion import make_fusion
from matcher.rank.retriever import HybridRetriever
from matcher.schema import Kind


@dataclass
class CandidatePools:
    """Per query: candidate ids and their raw component scores (the input of any fusion)."""

    bench: Benchmark
    qids: list[str]
    ids: list[np.ndarray]
    scores: list[dict[str, np.ndarray]]

    def evaluate(self, fusion: FusionConfig, k: int = 100) -> dict[str, float]:
        """Metrics of one fusion setting over the stored pools."""
        fuse = make_fusion(fusion)
        run = {}
        for qid, ids, comps in zip(self.qids, self.ids, self.scores):
            if len(ids) == 0:
                run[qid] = []
                continue
            order = np.argsort(-fuse.fuse(comps), kind="stable")[:k]
            run[qid] = ids[order].tolist()
        return score_run(run, self.bench.qrels)


def collect_pools(folder: str | Path, matcher: Matcher, *, pool: int = 200) -> CandidatePools:
    """Index a benchmark corpus and collect every query's candidate pool with dense and BM25 scores.

    Args:
        folder: a BEIR folder named <query>2<corpus>[-split].
        matcher: an empty Matcher (its encoder and segmenter are used).
        pool: candidates per retriever (the union is scored by both).

    Returns:
        The pools, ready for `CandidatePools.evaluate`.
    """
    bench = load_beir(folder)
    q_kind, c_kind = sides(bench.name)
    matcher.index(c_kind, corpus_frame(bench, c_kind))
    coll = matcher.collection(c_kind)
    qids = list(bench.queries)
    texts = [bench.queries[q] for q in qids]
    vectors = matcher.embed(texts)
    terms = [matcher.terms(t) for t in texts]
    retriever = HybridRetriever(coll, make_fusion(FusionConfig()), pool=pool)
    rankings = retriever.retrieve(vectors, terms, k=2 * pool)
    ids, scores = [], []
    for ranking in rankings:
        ids.append(np.array([coll.records.at[h.row, "id"] for h in ranking.hits], dtype=object))
        scores.append({name: np.array([h.components[name] for h in ranking.hits]) for name in ("dense", "bm25")})
    return CandidatePools(bench, qids, ids, scores)


def grid(pools: CandidatePools, settings: Iterable[FusionConfig]) -> pd.DataFrame:
    """Evaluate many fusion settings on the same pools.

    Returns:
        One row per setting: method, weights, rrf_k and the metrics.
    """
    rows = []
    for s in settings:
        rows.append({"method": s.method, "dense": s.weights.get("dense", 0.0), "bm25": s.weights.get("bm25", 0.0),
                     "rrf_k": s.rrf_k, **pools.evaluate(s)})
    return pd.DataFrame(rows)


def default_settings(steps: Sequence[float] = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))) -> list[FusionConfig]:
    """Weighted sums with dense weight w and BM25 weight 1-w, and RRF with the same weights."""
    out = [FusionConfig(method="weighted", weights={"dense": float(w), "bm25": float(1 - w)}) for w in steps]
    out += [FusionConfig(method="rrf", weights={"dense": float(w), "bm25": float(1 - w)}) for w in steps]
    return out
