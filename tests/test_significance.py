"""Run files and the paired comparison of two rankings (matcher.lab.evaluate run files, matcher.lab.significance)."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.errors import InputError
from matcher.lab.evaluate import METRICS, read_run, score_run, write_run
from matcher.lab.significance import by_judged_count, compare_runs, compare_sets, judged_group, per_query


def _qrels(n: int) -> dict[str, dict[str, int]]:
    return {f"q{i}": {f"d{i}": 1} for i in range(n)}


def _run_with_relevant_at(positions: list[int]) -> dict[str, list[str]]:
    """Query i ranks its relevant document at positions[i] (1-based; 0 = not ranked) among 20 others."""
    run = {}
    for i, pos in enumerate(positions):
        ranked = [f"x{i}-{j}" for j in range(20)]
        if pos:
            ranked.insert(pos - 1, f"d{i}")
        run[f"q{i}"] = ranked
    return run


def test_a_run_file_round_trips_in_rank_order(tmp_path):
    run = {"q1": [("b", 2.5), ("a", 2.5), ("c", -1.0)], "q2": [("z", 0.123456789)]}
    path = write_run(tmp_path / "x.trec", run, tag="my run")
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 b 1 2.5 my_run"
    assert read_run(path) == {"q1": ["b", "a", "c"], "q2": ["z"]}  # ties stay in rank order
    with pytest.raises(InputError, match="'q 2' is empty or contains whitespace"):
        write_run(tmp_path / "z.trec", {"q 2": [("z", 1.0)]})
    assert not (tmp_path / "z.trec").exists()
    # a run written by another tool, lines shuffled: ranks decide the order
    (tmp_path / "y.trec").write_text("q1 Q0 c 3 1 t\nq1 Q0 a 1 3 t\n\nq1 Q0 b 2 2 t\n")
    assert read_run(tmp_path / "y.trec") == {"q1": ["a", "b", "c"]}


def test_a_broken_run_file_is_named_with_its_line(tmp_path):
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 a 1 3.0 t\nq1 Q0 b two 2.0 t\n")
    with pytest.raises(InputError, match=r"bad\.trec.*line 2.*rank 'two'"):
        read_run(bad)
    bad.write_text("q1 a 1\n")
    with pytest.raises(InputError, match=r"line 1 has 3 fields"):
        read_run(bad)
    with pytest.raises(InputError, match="file not found"):
        read_run(tmp_path / "missing.trec")


def test_per_query_scores_average_to_the_run_scores():
    qrels = _qrels(30)
    run = _run_with_relevant_at([(i % 12) for i in range(30)])
    pq = per_query(run, qrels)
    assert {m: pq[m].mean() for m in METRICS} == pytest.approx(score_run(run, qrels))


def test_a_run_compared_with_itself_shows_no_difference():
    qrels = _qrels(40)
    run = _run_with_relevant_at([(i % 7) + 1 for i in range(40)])
    for c in compare_runs(run, run, qrels, resamples=500):
        assert c.delta == 0 and c.low == c.high == 0 and c.p_value == 1.0
        assert (c.wins, c.ties, c.losses) == (0, 40, 0)


def test_a_consistent_gain_is_significant_and_a_coin_flip_is_not():
    qrels = _qrels(60)
    base = _run_with_relevant_at([3] * 60)
    better = _run_with_relevant_at([1 if i % 4 else 3 for i in range(60)])  # 45 queries gain, none lose
    c = {r.metric: r for r in compare_runs(base, better, qrels, resamples=2000)}
    mrr = c["mrr@10"]
    assert mrr.delta == pytest.approx(45 / 60 * (1 - 1 / 3))
    assert mrr.p_value < 0.001 and 0 < mrr.low < mrr.delta < mrr.high
    assert (mrr.wins, mrr.ties, mrr.losses) == (45, 15, 0)
    assert c["recall@10"].delta == 0 and c["recall@10"].p_value == 1.0

    # two rankings that each put a query's document first or fifth by a coin flip: no real difference
    rng = np.random.default_rng(1)
    one, other = (_run_with_relevant_at([1 if flip else 5 for flip in rng.integers(0, 2, 60)]) for _ in range(2))
    noisy = {r.metric: r for r in compare_runs(one, other, qrels, resamples=2000)}["ndcg@10"]
    assert noisy.p_value > 0.05 and noisy.low < 0 < noisy.high
    # the same seed gives the same answer
    again = {r.metric: r for r in compare_runs(one, other, qrels, resamples=2000)}["ndcg@10"]
    assert again == noisy


def test_same_gain_on_every_query_uses_the_exact_test():
    qrels = _qrels(12)
    c = {r.metric: r for r in compare_runs(_run_with_relevant_at([2] * 12), _run_with_relevant_at([1] * 12), qrels,
                                           resamples=500)}["mrr@10"]
    assert c.delta == c.low == c.high == 0.5 and c.p_value == pytest.approx(2.0 ** -11)


def test_comparisons_refuse_what_they_cannot_compare():
    qrels = _qrels(5)
    run = _run_with_relevant_at([1] * 5)
    with pytest.raises(InputError, match="unknown metric"):
        compare_runs(run, run, qrels, metrics=["map"])
    with pytest.raises(InputError, match="new run ranks none of the judged queries"):
        compare_runs(run, {"other": ["d0"]}, qrels)
    with pytest.raises(InputError, match="no judged query"):
        compare_runs(run, run, {})


def test_queries_are_grouped_by_how_many_documents_they_judge_relevant():
    qrels = {"one": {"a": 1, "b": 0}, "two": {"a": 1, "b": 2}, "four": {f"d{i}": 1 for i in range(4)},
             "many": {f"d{i}": 1 for i in range(11)}, "none": {"a": 0}}
    groups = by_judged_count(qrels)
    assert list(groups) == ["1", "2-3", "4-10", ">10"]  # in size order; the unanswerable query is left out
    assert {g: sorted(q) for g, q in groups.items()} == {"1": ["one"], "2-3": ["two"], "4-10": ["four"], ">10": ["many"]}
    assert groups["2-3"]["two"] is qrels["two"]
    assert [judged_group(n) for n in (1, 3, 10, 70)] == ["1", "2-3", "4-10", ">10"]
    assert list(by_judged_count(_qrels(3))) == ["1"]
    with pytest.raises(ValueError, match="at least one relevant"):
        judged_group(0)


def test_two_query_sets_are_compared_unpaired():
    """A set that ranks its documents higher is told apart from another; two sets drawn alike are not."""
    rng = np.random.default_rng(3)
    low = _run_with_relevant_at([5 if flip else 0 for flip in rng.integers(0, 2, 50)])
    high = _run_with_relevant_at([1] * 40)
    c = {r.metric: r for r in compare_sets(low, _qrels(50), high, _qrels(40), resamples=2000)}
    mrr = c["mrr@10"]
    assert (mrr.base_queries, mrr.new_queries) == (50, 40) and mrr.new == 1.0
    assert mrr.delta == pytest.approx(1.0 - mrr.base) and mrr.p_value < 0.001 and 0 < mrr.low < mrr.delta < mrr.high
    assert c["recall@100"].delta == pytest.approx(1.0 - c["recall@100"].base)

    # two sets whose queries put their document first or fifth by the same coin: no difference
    one = _run_with_relevant_at([1 if flip else 5 for flip in rng.integers(0, 2, 60)])
    other = _run_with_relevant_at([1 if flip else 5 for flip in rng.integers(0, 2, 45)])
    noisy = compare_sets(one, _qrels(60), other, _qrels(45), metrics=["ndcg@10"], resamples=2000)[0]
    assert noisy.p_value > 0.05 and noisy.low < noisy.delta < noisy.high and noisy.low < 0 < noisy.high
    assert compare_sets(one, _qrels(60), other, _qrels(45), metrics=["ndcg@10"], resamples=2000)[0] == noisy

    same = compare_sets(high, _qrels(40), _run_with_relevant_at([1] * 7), _qrels(7), resamples=500)
    assert all(r.delta == r.low == r.high == 0 and r.p_value == 1.0 for r in same)
    with pytest.raises(InputError, match="base run ranks none"):
        compare_sets({"other": ["d0"]}, _qrels(3), high, _qrels(40))
    with pytest.raises(InputError, match="no judged query"):
        compare_sets(high, _qrels(40), high, {})


def test_pooled_queries_keep_each_benchmark_apart():
    from matcher.lab.significance import pool_queries

    one = {"q1": ["a"], "q2": ["b"]}
    assert pool_queries([("c2p-dev", one)]) == one  # one benchmark: its own ids
    pooled = pool_queries([("c2p-dev", one), ("c2p-other", {"q1": ["c"]})])
    assert pooled == {"c2p-dev/q1": ["a"], "c2p-dev/q2": ["b"], "c2p-other/q1": ["c"]}  # the same id in both stays two queries
    with pytest.raises(InputError, match="named twice"):
        pool_queries([("c2p-dev", one), ("c2p-dev", one)])
