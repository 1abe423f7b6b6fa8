"""Fusion selection on stored candidate pools: per-query metrics, grid neighbourhoods and the held-out estimate."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.config import FusionConfig
from matcher.lab.evaluate import METRICS, Benchmark, query_scores, score_run
from matcher.lab.tuning import (CandidatePools, cross_validate_selection, default_settings, grid, grid_neighbours, query_table,
                            select_setting)


def _pools(n_queries: int = 12) -> CandidatePools:
    """Each query has 3 candidates; its relevant one is first by "bm25" for even queries and by "dense" for odd ones."""
    qids = [f"q{i}" for i in range(n_queries)]
    qrels = {q: {f"{q}-rel": 1} for q in qids}
    ids, scores = [], []
    for i, q in enumerate(qids):
        ids.append(np.array([f"{q}-rel", f"{q}-a", f"{q}-b"], dtype=object))
        good, bad = np.array([3.0, 2.0, 1.0]), np.array([1.0, 3.0, 2.0])
        scores.append({"dense": good if i % 2 else bad, "bm25": bad if i % 2 else good, "items": np.zeros(3), "phrase": np.zeros(3)})
    bench = Benchmark("x2y-dev", corpus=[], queries={q: q for q in qids}, qrels=qrels)
    return CandidatePools(bench, qids, ids, scores)


def test_query_scores_match_the_averaged_run():
    rels = {"a": 1, "b": 1}
    one = query_scores(["x", "a", "y", "b"], rels)
    assert one["mrr@10"] == pytest.approx(0.5)
    assert one["recall@10"] == one["recall@100"] == 1.0
    ideal = 1 + 1 / np.log2(3)
    assert one["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / ideal)
    run = {"q1": ["x", "a", "y", "b"], "q2": []}
    avg = score_run(run, {"q1": rels, "q2": {"c": 1}})
    assert avg["ndcg@10"] == pytest.approx(one["ndcg@10"] / 2)
    assert set(avg) == set(METRICS)


def test_grid_from_the_query_table_equals_the_pooled_evaluation():
    pools = _pools()
    settings = default_settings()[:20]
    table = query_table(pools, settings)
    assert table.shape == (20, 12, len(METRICS))
    frame = grid(pools, settings, table=table)
    assert frame["ndcg@10"].tolist() == pytest.approx([pools.evaluate(s)["ndcg@10"] for s in settings])
    assert frame["mrr@10"].tolist() == pytest.approx([pools.evaluate(s)["mrr@10"] for s in settings])


def test_neighbours_stay_within_one_step_and_one_method():
    settings = default_settings()
    neighbours = grid_neighbours(settings)
    steps = (0.0, 0.25, 0.5, 1.0)
    for i in (0, 7, len(settings) - 1):
        assert i in neighbours[i]
        for j in neighbours[i]:
            assert settings[j].method == settings[i].method
            assert all(abs(steps.index(settings[j].weights[n]) - steps.index(settings[i].weights[n])) <= 1 for n in settings[i].weights)
    # the all-bm25 weighted setting sees settings that add a little of another scorer, not ones far away
    solo = next(i for i, s in enumerate(settings) if s.method == "weighted" and s.weights == {"dense": 0.0, "bm25": 1.0, "items": 0.0, "phrase": 0.0})
    names = [tuple(settings[j].weights.values()) for j in neighbours[solo]]
    assert (0.25, 1.0, 0.0, 0.0) in names and (1.0, 1.0, 0.0, 0.0) not in names


def test_selection_and_its_held_out_estimate():
    pools = _pools()
    settings = [FusionConfig(method="weighted", weights={"dense": 1.0}), FusionConfig(method="weighted", weights={"bm25": 1.0})]
    table = query_table(pools, settings)
    # half the queries favour each scorer: the choice follows the queries it is made on
    even, odd = np.arange(0, 12, 2), np.arange(1, 12, 2)
    assert select_setting(table, queries=even) == 1 and select_setting(table, queries=odd) == 0
    estimate = cross_validate_selection(table, folds=3, repeats=4, seed=0)
    assert estimate.folds == 3 and estimate.repeats == 4
    # a held-out choice lies between the per-query worst and the per-query oracle; here it is below both settings'
    # own means (0.75): whichever scorer a fold's training queries favour, its test queries favour the other more often
    assert table[:, :, 0].min(axis=0).mean() <= estimate.metrics["ndcg@10"] <= table[:, :, 0].max(axis=0).mean()
    assert estimate.metrics["ndcg@10"] < table[:, :, 0].mean(axis=1).min()
    assert estimate.ndcg_sd >= 0.0
    assert cross_validate_selection(table, folds=3, repeats=4, seed=0) == estimate  # seeded
    with pytest.raises(ValueError, match="folds"):
        cross_validate_selection(table, folds=13)
