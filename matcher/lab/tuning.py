"""Fusion tuning on BEIR benchmarks: collect candidate pools with component scores once, re-fuse many ways."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.config import Direction, FusionConfig, MatcherConfig
from matcher.engine import Matcher, Query, SearchResult
from matcher.lab.evaluate import METRICS, Benchmark, corpus_frame, load_beir, metrics_by_query, score_run, sides
from matcher.rank.fusion import make_fusion

SCORERS = ("dense", "bm25", "items", "phrase")
"""The signals of every benchmark in ../shared (BEIR corpora carry no applicants, so no portfolio)."""
PORTFOLIO = "portfolio"


@dataclass
class CandidatePools:
    """Per query: candidate ids and their raw component scores (the input of any fusion)."""

    bench: Benchmark
    qids: list[str]
    ids: list[np.ndarray]
    scores: list[dict[str, np.ndarray]]

    def run(self, fusion: FusionConfig, k: int = 100) -> dict[str, list[str]]:
        """Every query's top-k candidate ids under one fusion setting."""
        fuse = make_fusion(fusion)
        run = {}
        for qid, ids, comps in zip(self.qids, self.ids, self.scores):
            if len(ids) == 0:
                run[qid] = []
                continue
            order = np.argsort(-fuse.fuse(comps), kind="stable")[:k]
            run[qid] = ids[order].tolist()
        return run

    def evaluate(self, fusion: FusionConfig, k: int = 100) -> dict[str, float]:
        """Metrics of one fusion setting over the stored pools."""
        return score_run(self.run(fusion, k), self.bench.qrels)

    def query_metrics(self, fusion: FusionConfig, k: int = 100) -> np.ndarray:
        """(n_queries, len(METRICS)) metrics of one fusion setting, rows in `qids` order."""
        return metrics_by_query(self.run(fusion, k), self.bench.qrels, self.qids)


def pooling_config(config: MatcherConfig, pool: int, query_segment_mode: str = "search",
                   scorers: Sequence[str] = SCORERS) -> MatcherConfig:
    """The configuration that makes a search return every scorer's component for the whole candidate pool."""
    weights = {s: 1.0 for s in scorers}
    return config.model_copy(update={"pool": pool, "fusion": {d: FusionConfig(weights=weights, query_segment_mode=query_segment_mode)
                                                              for d in Direction}})


def collect_pools(folder: str | Path, matcher: Matcher, *, pool: int = 200, query_segment_mode: str = "search",
                  scorers: Sequence[str] = SCORERS, enterprise_attributes: pd.DataFrame | None = None) -> CandidatePools:
    """Index a benchmark corpus and collect every query's candidate pool with all component scores.

    Args:
        folder: a BEIR folder named <query>2<corpus>[-split].
        matcher: an empty Matcher (its encoder, segmenter and scorers are what is measured).
        pool: candidates per scorer (their union is scored by every scorer).
        query_segment_mode: jieba mode for the queries' BM25 terms.
        scorers: the signals pooled and kept (e.g. SCORERS + ("activity",) with a configured activity model).
        enterprise_attributes: fill the corpus's enterprise records from these (`matcher.lab.evaluate.corpus_frame`).

    Returns:
        The pools, ready for `CandidatePools.evaluate`.
    """
    bench = load_beir(folder)
    q_kind, c_kind = sides(bench.name)
    matcher.config = pooling_config(matcher.config, pool, query_segment_mode, scorers)
    matcher.index(c_kind, corpus_frame(bench, c_kind, enterprise_attributes))
    qids = list(bench.queries)
    results = matcher.candidate_pools([Query(bench.queries[q], kind=q_kind) for q in qids], c_kind)
    return pools_from_results(bench, qids, results, scorers)


def pools_from_results(bench: Benchmark, qids: Sequence[str], results: Sequence[SearchResult],
                       scorers: Sequence[str] = SCORERS) -> CandidatePools:
    """Candidate pools from whole-pool search results (`Matcher.candidate_pools` with every scorer weighted).

    Args:
        bench: the judgements the pools are scored against.
        qids: the query id of each result, in order.
        results: the search results.
        scorers: the component scores kept.
    """
    ids, scores = [], []
    for res in results:
        ids.append(np.array([m.target_id for m in res.matches], dtype=object))
        scores.append({name: np.array([m.components[name] for m in res.matches]) for name in scorers})
    return CandidatePools(bench, list(qids), ids, scores)


def grid(pools: CandidatePools, settings: Sequence[FusionConfig], query_segment_mode: str = "search",
         table: np.ndarray | None = None) -> pd.DataFrame:
    """Evaluate many fusion settings on the same pools.

    Args:
        pools: the candidate pools.
        settings: the fusion settings.
        query_segment_mode: recorded in the rows (the pools were collected with it).
        table: their `query_table`, when already computed.

    Returns:
        One row per setting: method, weights, rrf_k and the metrics (means over the queries).
    """
    settings = list(settings)
    means = (query_table(pools, settings) if table is None else table).mean(axis=1)
    names = [n for n in (*SCORERS, PORTFOLIO) if any(n in s.weights for s in settings)]
    rows = []
    for s, m in zip(settings, means):
        rows.append({"query_mode": query_segment_mode, "method": s.method, **{n: s.weights.get(n, 0.0) for n in names}, "rrf_k": s.rrf_k,
                     **dict(zip(METRICS, m.tolist()))})
    return pd.DataFrame(rows)


def default_settings(steps: Sequence[float] = (0.0, 0.25, 0.5, 1.0), scorers: Sequence[str] = SCORERS) -> list[FusionConfig]:
    """Every weighted-sum and RRF setting on a grid of weights for the given scorers.

    Both fusions rank the same for proportional weights, so only settings whose largest weight is the
    largest step are generated (all-zero excluded).
    """
    out = []
    for w in itertools.product(steps, repeat=len(scorers)):
        if max(w) != max(steps):
            continue
        weights = {name: float(x) for name, x in zip(scorers, w)}
        out.append(FusionConfig(method="weighted", weights=weights))
        out.append(FusionConfig(method="rrf", weights=weights))
    return out


# --- choosing one setting per benchmark, and what that choice is worth on queries it was not chosen on ---------------


def query_table(pools: CandidatePools, settings: Sequence[FusionConfig]) -> np.ndarray:
    """Per-query metrics of every setting: an array (n_settings, n_queries, len(METRICS))."""
    return np.stack([pools.query_metrics(s) for s in settings])


def grid_neighbours(settings: Sequence[FusionConfig]) -> list[np.ndarray]:
    """For each setting, the settings of the same method (and RRF k) whose every weight is at most one grid step away.

    A grid step is the distance between two adjacent weight values that occur for that scorer in `settings`;
    every setting is its own neighbour.
    """
    names = sorted({n for s in settings for n in s.weights})
    steps = {n: sorted({s.weights.get(n, 0.0) for s in settings}) for n in names}
    pos = np.array([[steps[n].index(s.weights.get(n, 0.0)) for n in names] for s in settings]).reshape(len(settings), len(names))
    group = [(s.method, s.rrf_k if s.method == "rrf" else None) for s in settings]
    same = np.array([[a == b for b in group] for a in group])
    return [np.flatnonzero(same[i] & (np.abs(pos - pos[i]).max(axis=1) <= 1)) for i in range(len(settings))]


def select_setting(table: np.ndarray, neighbours: Sequence[np.ndarray] | None = None, queries: np.ndarray | None = None,
                   metric: str = "ndcg@10") -> int:
    """Index of the best setting on the given queries.

    Args:
        table: `query_table` output.
        neighbours: `grid_neighbours` of the same settings to rank each setting by the mean of its grid
            neighbourhood (a flat optimum, which holds better on unseen queries than a lucky peak);
            None ranks settings by their own score.
        queries: query positions to choose on (default all).
        metric: the metric to maximise.

    Returns:
        The position of the chosen setting (the first one on ties).
    """
    rows = table[:, slice(None) if queries is None else queries, METRICS.index(metric)].mean(axis=1)
    if neighbours is not None:
        rows = np.array([rows[nb].mean() for nb in neighbours])
    return int(np.argmax(rows))


@dataclass
class SelectionEstimate:
    """Held-out value of choosing a fusion setting on a benchmark's other queries.

    Attributes:
        metrics: METRICS on held-out queries, pooled over the folds and averaged over the repeats.
        ndcg_sd: standard deviation of nDCG@10 over the repeats (how much the split itself moves it).
        folds, repeats: the cross-validation plan.
    """

    metrics: dict[str, float]
    ndcg_sd: float
    folds: int
    repeats: int


def cross_validate_selection(table: np.ndarray, neighbours: Sequence[np.ndarray] | None = None, *, folds: int = 5,
                             repeats: int = 5, seed: int = 0) -> SelectionEstimate:
    """Estimate what the chosen setting scores on queries it was not chosen on.

    The queries are split into `folds` random folds; each fold is ranked with the setting `select_setting`
    picks on the other folds; the held-out metrics are pooled over all queries. Repeated with `repeats`
    different splits (seeded), because the split itself moves small benchmarks by several points.

    Args:
        table: `query_table` output.
        neighbours: as in `select_setting` (None: plain best setting).
        folds: number of folds (at least 2, at most the number of queries).
        repeats: number of random splits.
        seed: seed of the splits.
    """
    n_queries = table.shape[1]
    if not 2 <= folds <= n_queries:
        raise ValueError(f"folds must be between 2 and the number of queries ({n_queries}), got {folds}")
    rng = np.random.default_rng(seed)
    pooled = []
    for _ in range(repeats):
        fold_of = rng.permutation(n_queries) % folds
        held = np.empty((n_queries, table.shape[2]))
        for k in range(folds):
            test = np.flatnonzero(fold_of == k)
            held[test] = table[select_setting(table, neighbours, np.flatnonzero(fold_of != k)), test]
        pooled.append(held.mean(axis=0))
    pooled = np.array(pooled)
    return SelectionEstimate(dict(zip(METRICS, pooled.mean(axis=0).tolist())), float(pooled[:, 0].std()), folds, repeats)
