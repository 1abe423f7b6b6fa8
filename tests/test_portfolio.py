"""The patents an enterprise already holds: the applicant link, the "portfolio" signal in both directions, the
held-patent exclusion and explanation, and the held-out-ownership benchmark on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from matcher.config import Direction, FusionConfig
from matcher.engine import Matcher
from matcher.index.portfolio import Portfolio, applicant_keys
from matcher.rank.fusion import ReciprocalRankFusion, WeightedSum
from matcher.schema import Kind


def test_link_by_company_key_with_several_applicants():
    patents = pd.DataFrame({"applicant": ["甲科技(深圳)有限公司；乙大学", "丙有限公司", None, "乙大学、丙有限公司"]},
                           index=[10, 11, 12, 13])
    enterprises = pd.DataFrame({"name": ["甲科技（深圳）有限公司", "丙有限公司", "丁有限公司"]}, index=[0, 1, 2])
    link = Portfolio.link(patents, enterprises)
    assert applicant_keys("甲科技(深圳)有限公司；乙大学") == ["甲科技(深圳)有限公司", "乙大学"]
    assert link.patents_of(0).tolist() == [10]  # full-width and half-width brackets are one company
    assert link.patents_of(1).tolist() == [11, 13]
    assert link.patents_of(2).tolist() == [] and link.owners_of(12).tolist() == []
    assert link.owners_of(13).tolist() == [1]
    assert len(link) == 2 and link.holders.tolist() == [0, 1] and link.held.tolist() == [10, 11, 13]
    assert len(Portfolio.link(patents.drop(columns="applicant"), enterprises)) == 0


def test_rrf_ignores_a_constant_signal_and_ranks_ties_alike():
    scores = {"dense": np.array([0.1, 0.9, 0.5]), "portfolio": np.zeros(3)}
    for fusion in (ReciprocalRankFusion({"dense": 1.0, "portfolio": 1.0}), WeightedSum({"dense": 1.0, "portfolio": 1.0})):
        alone = type(fusion)({"dense": 1.0}).fuse(scores)
        assert np.allclose(fusion.fuse(scores), alone)
    # records a signal scores alike share their average rank instead of being ordered by pool position
    fused = ReciprocalRankFusion({"portfolio": 1.0}, k=60).fuse({"portfolio": np.array([0.0, 0.4, 0.0, 0.0])})
    assert np.allclose(fused, [1 / 63, 1 / 61, 1 / 63, 1 / 63])


WHOLE = 100  # more than the demo's 60 patents and 40 enterprises / demands: the whole ranked list


def _rows(matcher: Matcher, kind: Kind, ids: list[str]) -> np.ndarray:
    return matcher.collection(kind).rows_of(ids)


def _vector(matcher: Matcher, kind: Kind, record_id: str) -> np.ndarray:
    return matcher.collection(kind).vectors([record_id])[0]


def test_the_floor_is_what_unrelated_patents_reach(matcher):
    patents = matcher.collection(Kind.PATENT)
    vectors = patents.vectors(patents.ids)
    cosines = (vectors @ vectors.T)[np.triu_indices(len(vectors), 1)]  # 60 patents: every pair
    assert matcher.signals.portfolio_floor == pytest.approx(float(np.quantile(cosines, 0.9)), abs=1e-6)
    matcher.delete(Kind.PATENT, patents.ids[:30])  # computed again once the patents change
    kept = patents.vectors(patents.ids)
    cosines = (kept @ kept.T)[np.triu_indices(len(kept), 1)]
    assert matcher.signals.portfolio_floor == pytest.approx(float(np.quantile(cosines, 0.9)), abs=1e-6)


@pytest.fixture()
def semantic(use_m3_demo_index, use_m3_config) -> Matcher:
    """The demo index with the real USE-m3: which held patent resembles which is a question of meaning."""
    return Matcher.load(use_m3_demo_index, use_m3_config)


def test_enterprise_to_patents_uses_and_excludes_its_own_patents(semantic, use_m3_demo_index):
    matcher, demo_index = semantic, use_m3_demo_index
    # demo: 固驰汽车零部件 (DEMO-C-008) filed DEMO-P-060, 睿驱电子科技 (DEMO-C-012) filed DEMO-P-055
    c012 = _rows(matcher, Kind.ENTERPRISE, ["DEMO-C-012"])[0]
    assert matcher.signals.portfolio.patents_of(c012).tolist() == _rows(matcher, Kind.PATENT, ["DEMO-P-055"]).tolist()
    res = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-C-012"), Kind.PATENT, k=WHOLE)[0]
    ids = [m.target_id for m in res.matches]
    assert "DEMO-P-055" not in ids and len(ids) > 10  # never pushed its own patent
    held = _vector(matcher, Kind.PATENT, "DEMO-P-055")
    floor = matcher.signals.portfolio_floor
    for m in res.matches:
        cosine = float(_vector(matcher, Kind.PATENT, m.target_id) @ held)
        assert m.components["portfolio"] == pytest.approx(max(0.0, cosine - floor), abs=1e-5)
    for m in res.matches[:10]:  # the held patent is named where it counted
        counted = m.components["portfolio"] > 0
        assert m.explanation.held_patent == ("一种新能源汽车电机控制器散热结构" if counted else "")
    # the battery thermal-management patent is the one its motor-controller cooling patent resembles
    top = {m.target_id: m for m in res.matches[:10]}
    assert "DEMO-P-028" in top and top["DEMO-P-028"].explanation.held_patent
    # the closest held patent lifts the patents most like it: the best portfolio score ranks higher with the
    # signal than without it
    best = max(res.matches, key=lambda m: m.components["portfolio"]).target_id
    plain = matcher.config.model_copy(deep=True)
    plain.fusion[Direction.ENTERPRISE_TO_PATENT] = FusionConfig(method="rrf", weights={"dense": 0.25, "bm25": 0.25, "items": 0.5})
    without = Matcher.load(demo_index, plain, encoder=matcher.encoder)
    ranked = [m.target_id for m in without.search(without.query_for(Kind.ENTERPRISE, "DEMO-C-012"), Kind.PATENT, k=WHOLE)[0].matches]
    assert ids.index(best) <= ranked.index(best)
    assert "portfolio" not in without.search(without.query_for(Kind.ENTERPRISE, "DEMO-C-012"), Kind.PATENT, k=3)[0].matches[0].components


def test_patent_to_enterprises_scores_holders_and_excludes_the_owner(semantic):
    matcher = semantic
    res = matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-060"), Kind.ENTERPRISE, k=WHOLE)[0]
    assert "DEMO-C-008" not in [m.target_id for m in res.matches]  # the owner already holds it
    # a battery thermal-management patent: the two holders are scored by their held patent, everyone else gets 0
    query = matcher.query_for(Kind.PATENT, "DEMO-P-028")
    res = matcher.search(query, Kind.ENTERPRISE, k=WHOLE)[0]
    by_id = {m.target_id: m for m in res.matches}
    vector = _vector(matcher, Kind.PATENT, "DEMO-P-028")
    for holder, held in (("DEMO-C-008", "DEMO-P-060"), ("DEMO-C-012", "DEMO-P-055")):
        expected = max(0.0, float(_vector(matcher, Kind.PATENT, held) @ vector) - matcher.signals.portfolio_floor)
        assert by_id[holder].components["portfolio"] == pytest.approx(expected, abs=1e-5)
        title = matcher.collection(Kind.PATENT).record(held)["title"]
        assert by_id[holder].explanation.held_patent == (title if expected > 0 else "")
    assert by_id["DEMO-C-012"].components["portfolio"] > 0  # its motor-controller cooling patent is close
    others = [m for m in res.matches if m.target_id not in ("DEMO-C-008", "DEMO-C-012")]
    assert all(m.components["portfolio"] == 0.0 and m.explanation.held_patent == "" for m in others)
    # free text has no portfolio: the signal is not even computed
    assert "portfolio" not in matcher.search("汽车连接器密封", Kind.ENTERPRISE, k=3)[0].matches[0].components


def test_exclusion_can_be_turned_off_and_the_link_follows_updates(matcher):
    matcher.config = matcher.config.model_copy(update={"exclude_held": False})
    ids = [m.target_id for m in matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-060"), Kind.ENTERPRISE, k=WHOLE)[0].matches]
    assert "DEMO-C-008" in ids
    assert len(matcher.signals.portfolio) == 2
    matcher.delete(Kind.PATENT, ["DEMO-P-060"])
    assert len(matcher.signals.portfolio) == 1  # rebuilt after the change
    assert matcher.signals.portfolio.patents_of(_rows(matcher, Kind.ENTERPRISE, ["DEMO-C-008"])[0]).tolist() == []


def test_held_out_ownership_benchmark_on_real_data(config):
    """pipelines/lab/bench_portfolio.py on the patents of a few real multi-patent companies: the owner of a patent whose
    applicant is hidden is found far better with the portfolio signal than without."""
    from matcher.lab.tuning import pooling_config
    from pipelines.lab.bench_portfolio import SCORERS, collect, ownership, report, shared_frames

    if not (SHARED / "data" / "registry" / "companies_20k.csv").is_file():
        pytest.skip(f"{SHARED} has no registry (set MATCHER_SHARED_DIR)")
    patents, companies = shared_frames(SHARED)
    owned = ownership(patents, companies)
    counts = pd.Series([c for c, _ in owned]).value_counts()
    big = set(counts[counts >= 4].index[:6])
    held = {p for c, p in owned if c in big}
    patents = pd.concat([patents[patents["id"].isin(held)], patents[~patents["id"].isin({p for _, p in owned})].sample(150, random_state=0)])
    companies = pd.concat([companies[companies["id"].isin(big)], companies[~companies["id"].isin(counts.index)].sample(150, random_state=0)])
    owned = [(c, p) for c, p in owned if c in big]
    pools = collect(Matcher(pooling_config(config, 100, scorers=SCORERS)), patents.reset_index(drop=True),
                    companies.reset_index(drop=True), owned, folds=2)
    assert len(pools["p2c"].qids) == len(owned)
    assert set(pools["c2p"].bench.qrels[pools["c2p"].qids[0]]) <= held
    everyone = np.ones(len(pools["p2c"].qids), dtype=bool)
    rows = report(pools["p2c"], everyone, config.fusion_for(Direction.PATENT_TO_ENTERPRISE), floors=[0.2], weights=[0.5])
    plain, with_portfolio = rows[0], rows[2]
    assert plain["setting"] == "shipped, no portfolio" and with_portfolio["setting"] == "shipped + portfolio 0.5"
    assert with_portfolio["dev_ndcg@10"] > plain["dev_ndcg@10"] + 0.1
