"""The per-record priors (activity, grade) and the licence-mode fit as ranking signals: zero weights change nothing,
a weight ranks by them, the index's grades are read on load, and the lab grades a benchmark's patents."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matcher.config import Direction, FusionConfig
from matcher.engine import Matcher
from matcher.grading import GRADE_COLUMNS, grade_patents, write_grades
from matcher.grading.prior import grade_values
from matcher.office.licence_fit import licence_fit
from matcher.rank.priors import PriorCache, by_row, proposed_order
from matcher.schema import Kind

QUERIES = ["DEMO-D-001", "DEMO-D-002", "DEMO-D-010", "DEMO-C-003", "DEMO-C-012"]


def _with_weights(matcher: Matcher, direction: Direction, **weights: float) -> None:
    """Add weights to one direction's fusion (the rest of the configuration unchanged)."""
    fusion = dict(matcher.config.fusion)
    current = matcher.config.fusion_for(direction)
    fusion[direction] = current.model_copy(update={"weights": {**current.weights, **weights}})
    matcher.config = matcher.config.model_copy(update={"fusion": fusion})


def _ranked(matcher: Matcher, ids: list[str], target: Kind, source: Kind) -> list[list[tuple]]:
    results = matcher.search([matcher.query_for(source, i) for i in ids], target, k=30, explain=False)
    return [[(m.target_id, m.score, tuple(sorted(m.components.items()))) for m in r.matches] for r in results]


@pytest.fixture(scope="module")
def grades(demo_patents, demo_enterprises) -> pd.DataFrame:
    """The demo patents graded by rules and the input columns (no models: fast)."""
    return grade_patents(demo_patents, None, demands=demo_enterprises)


def test_grade_values_order_tiers_then_prospect():
    table = pd.DataFrame({"id": ["a", "b", "c", "d"], "tier": ["B", "A", "E", "B"], "prospect": [60.0, 75.0, 90.0, 58.0]})
    values = grade_values(["b", "a", "d", "c", "x"], table)
    assert values[0] > values[1] > values[2] > values[3]  # A before B, B 60 before B 58, E last whatever its prospect
    assert np.isnan(values[4])  # ungraded: no evidence
    assert values[0] == pytest.approx((4 + 0.75) / 5)
    assert np.isnan(grade_values(["a"], None)).all()


def test_prior_values_by_row_and_cache():
    records = pd.DataFrame({"id": ["a", "b"]}, index=[0, 3])
    assert by_row(records, np.array([0.2, np.nan])).tolist()[:3] == [0.2, -np.inf, -np.inf]
    assert np.isnan(by_row(records, np.array([0.2, np.nan]))[3])
    cache, calls = PriorCache(), []
    compute = lambda: calls.append(1) or np.ones(2)  # noqa: E731
    cache.get("grade", 1, compute), cache.get("grade", 1, compute)
    assert len(calls) == 1 and len(cache.get("grade", None, compute)) == 0  # no source: silent
    cache.get("grade", 2, compute)
    assert len(calls) == 2  # a new source recomputes


def test_the_proposed_order_is_kept_with_its_values():
    values = np.array([0.2, -np.inf, 0.9, np.nan, 0.5, 0.9])
    assert proposed_order(values).tolist() == [2, 5, 4, 0]  # ties by row id; no deleted row, none without a value
    cache = PriorCache()
    cache.get("activity", "model-1", lambda: values)
    first = cache.order("activity")
    assert cache.order("activity") is first  # sorted once for these values
    cache.get("activity", "model-2", lambda: values[::-1].copy())
    assert cache.order("activity").tolist() == [0, 3, 1, 5]  # new values, sorted again
    cache.clear()
    with pytest.raises(KeyError):
        cache.order("activity")


def test_the_engine_keeps_the_order_a_prior_proposes(matcher, grades):
    assert len(matcher.signals.prior_order("grade")) == 0  # no grades yet: nothing to propose
    matcher.signals.use_grades(grades)
    order = matcher.signals.prior_order("grade")
    assert len(order) and order.tolist() == proposed_order(matcher.signals.prior("grade")).tolist()
    assert matcher.signals.prior_order("grade") is order  # not sorted again for the next query
    matcher.signals.use_grades(grades.iloc[::-1].reset_index(drop=True))  # a new version of the grades
    assert matcher.signals.prior_order("grade") is not order


def test_zero_weights_rank_byte_identically(matcher, grades):
    before_e2p = _ranked(matcher, QUERIES[:3], Kind.PATENT, Kind.ENTERPRISE)
    before_p2e = _ranked(matcher, ["DEMO-P-001", "DEMO-P-002"], Kind.ENTERPRISE, Kind.PATENT)
    matcher.signals.use_grades(grades)
    for direction in (Direction.ENTERPRISE_TO_PATENT, Direction.PATENT_TO_ENTERPRISE):
        _with_weights(matcher, direction, grade=0.0, licence=0.0)
    assert _ranked(matcher, QUERIES[:3], Kind.PATENT, Kind.ENTERPRISE) == before_e2p
    assert _ranked(matcher, ["DEMO-P-001", "DEMO-P-002"], Kind.ENTERPRISE, Kind.PATENT) == before_p2e


def test_grade_prior_ranks_patents_by_their_grade(matcher, grades, tmp_path):
    _with_weights(matcher, Direction.ENTERPRISE_TO_PATENT, grade=1.0)
    plain = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=5)[0]
    assert "grade" not in plain.matches[0].components  # no grades: the prior is silent
    matcher.signals.use_grades(grades)
    records = matcher.collection(Kind.PATENT).records
    expected = dict(zip(records["id"], grade_values(records["id"].tolist(), grades)))
    assert len(set(expected.values())) > 3  # the demo's grades differ
    res = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=len(records))[0]
    assert all(m.components["grade"] == pytest.approx(expected[m.target_id]) for m in res.matches)
    _with_weights(matcher, Direction.ENTERPRISE_TO_PATENT, **{n: 0.0 for n in ("dense", "bm25", "items", "portfolio")},
                  reciprocal=0.0, grade=1.0)
    top = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=1)[0].matches[0]
    assert expected[top.target_id] == max(expected.values())
    # patent -> enterprise lists are never ranked by the patents' grade (it is the query's, the same for all)
    _with_weights(matcher, Direction.PATENT_TO_ENTERPRISE, grade=5.0)
    p2e = matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-001"), Kind.ENTERPRISE, k=3)[0]
    assert "grade" not in p2e.matches[0].components


def test_loaded_index_reads_its_grades(demo_index, config, demo_patents, demo_enterprises, tmp_path):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(demo_index, index)
    cfg = json.loads(config.model_dump_json())
    cfg["fusion"]["enterprise->patent"]["weights"]["grade"] = 1.0
    loaded = Matcher.load(index, config.model_validate(cfg))
    assert len(loaded.signals.prior("grade")) == 0  # not graded yet
    grades = grade_patents(demo_patents, None, demands=demo_enterprises)
    write_grades(index, grades[list(GRADE_COLUMNS)])
    reloaded = Matcher.load(index, config.model_validate(cfg))
    rows = reloaded.collection(Kind.PATENT).records
    assert np.allclose(reloaded.signals.prior("grade")[rows.index.to_numpy()], grade_values(rows["id"].tolist(), grades))
    match = reloaded.search(reloaded.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=1)[0].matches[0]
    assert "grade" in match.components


def test_licence_fit_scores_pairs_as_the_card_says(matcher):
    patents = matcher.collection(Kind.PATENT).records.set_index("id")
    demands = matcher.collection(Kind.ENTERPRISE).records.set_index("id")
    _with_weights(matcher, Direction.ENTERPRISE_TO_PATENT, licence=1.0)
    res = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=20)[0]
    demand = demands.loc["DEMO-D-001"].to_dict()
    values = [m.components["licence"] for m in res.matches]
    assert values == [licence_fit(demand, patents.loc[m.target_id].to_dict()).value for m in res.matches]
    assert len(set(values)) > 1  # the demo's terms tell the pairs apart
    # patent -> enterprise: the same fit, from the patent's side
    _with_weights(matcher, Direction.PATENT_TO_ENTERPRISE, licence=1.0)
    res = matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-001"), Kind.ENTERPRISE, k=10)[0]
    patent = patents.loc["DEMO-P-001"].to_dict()
    assert [m.components["licence"] for m in res.matches] == [
        licence_fit(demands.loc[m.target_id].to_dict(), patent).value for m in res.matches]
    # a dominant weight puts the fitting pairs first; pasted text states no terms: no licence signal
    _with_weights(matcher, Direction.ENTERPRISE_TO_PATENT, licence=100.0)
    top = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=3)[0].matches
    assert all(m.components["licence"] == 1.0 for m in top)
    text = matcher.search("可降解薄膜 吹膜 工艺", Kind.PATENT, k=3)[0]
    assert "licence" not in text.matches[0].components


def test_lab_grades_the_benchmark_patents_when_the_grade_is_weighted(config, demo_patents, tmp_path):
    from matcher.lab.evaluate import grade_indexed, run_benchmark, weighs_grades

    folder = tmp_path / "c2p-demo"
    (folder / "qrels").mkdir(parents=True)
    rows = demo_patents.head(12)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": r.id, "title": r.title, "text": r.abstract},
                                                            ensure_ascii=False) + "\n" for r in rows.itertuples()),
                                         encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "可降解薄膜的制备"}, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{rows.id.iloc[0]}\t1\n", encoding="utf-8")
    assert not weighs_grades(config)
    cfg = json.loads(config.model_dump_json())
    cfg["fusion"]["enterprise->patent"]["weights"]["grade"] = 0.5
    weighted = config.model_validate(cfg)
    assert weighs_grades(weighted)
    engine = Matcher(weighted)
    scores = run_benchmark(folder, engine, query_side="enterprise", k=10)
    assert set(scores) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    graded = engine.signals.grades()
    assert graded is not None and sorted(graded["id"]) == sorted(rows["id"])
    assert grade_indexed(engine)["tier"].isin(list("ABCDE")).all()
