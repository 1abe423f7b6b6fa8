"""Fusion tuning on BEIR benchmarks: collect candidate pools with component scores once, re-fuse many ways."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.config import Direction, FusionConfig
from matcher.engine import Matcher, Query
from matcher.evaluate import Benchmark, corpus_frame, load_beir, score_run, sides
from matcher.rank.fusion import make_fusion

SCORERS = ("dense", "bm25", "items", "phrase")


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


def collect_pools(folder: str | Path, matcher: Matcher, *, pool: int = 200, query_segment_mode: str = "search") -> CandidatePools:
    """Index a benchmark corpus and collect every query's candidate pool with all component scores.

    Args:
        folder: a BEIR folder named <query>2<corpus>[-split].
        matcher: an empty Matcher (its encoder, segmenter and scorers are what is measured).
        pool: candidates per scorer (their union is scored by every scorer).
        query_segment_mode: jieba mode for the queries' BM25 terms.

    Returns:
        The pools, ready for `CandidatePools.evaluate`.
    """
    bench = load_beir(folder)
    q_kind, c_kind = sides(bench.name)
    matcher.config = matcher.config.model_copy(
        update={"pool": pool, "fusion": {d: FusionConfig(weights={s: 1.0 for s in SCORERS}, query_segment_mode=query_segment_mode) for d in Direction}}
    )
    matcher.index(c_kind, corpus_frame(bench, c_kind))
    qids = list(bench.queries)
    results = matcher.search([Query(bench.queries[q], kind=q_kind) for q in qids], c_kind, k=None, explain=False)
    ids, scores = [], []
    for res in results:
        ids.append(np.array([m.target_id for m in res.matches], dtype=object))
        scores.append({name: np.array([m.components[name] for m in res.matches]) for name in SCORERS})
    return CandidatePools(bench, qids, ids, scores)


def grid(pools: CandidatePools, settings: Iterable[FusionConfig], query_segment_mode: str = "search") -> pd.DataFrame:
    """Evaluate many fusion settings on the same pools.

    Returns:
        One row per setting: method, weights, rrf_k and the metrics.
    """
    rows = []
    for s in settings:
        s = s.model_copy(update={"query_segment_mode": query_segment_mode})
        rows.append({"query_mode": s.query_segment_mode, "method": s.method, **{n: s.weights.get(n, 0.0) for n in SCORERS}, "rrf_k": s.rrf_k,
                     **pools.evaluate(s)})
    return pd.DataFrame(rows)


def default_settings(steps: Sequence[float] = (0.0, 0.25, 0.5, 1.0)) -> list[FusionConfig]:
    """Every weighted-sum and RRF setting on a grid of weights for every scorer in SCORERS.

    Both fusions rank the same for proportional weights, so only settings whose largest weight is the
    largest step are generated (all-zero excluded).
    """
    out = []
    for w in itertools.product(steps, repeat=len(SCORERS)):
        if max(w) != max(steps):
            continue
        weights = {name: float(x) for name, x in zip(SCORERS, w)}
        out.append(FusionConfig(method="weighted", weights=weights))
        out.append(FusionConfig(method="rrf", weights=weights))
    return out
