"""Match confidence: features, the calibrated model and its file, the verdict, the engine and the export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.export import NightlyJob
from matcher.rank.confidence import (FEATURES, NONE_FOUND, RELATED_ONLY, SUITABLE, ConfidenceModel, choose_threshold,
                                     pair_features, precision_retention, verdict)
from matcher.results import Match
from matcher.schema import Kind

E2P = "enterprise->patent"


def _matches(scores):
    return [Match(rank=i + 1, target_id=f"p{i}", score=s, components={"dense": s / 2, "bm25": 10 * s}, record={})
            for i, s in enumerate(scores)]


def _synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 1.0).astype(int)
    return x, y


def _model(encoder, threshold=0.3, strong=0.8, seed=0):
    x, y = _synthetic(seed=seed)
    model = ConfidenceModel(card={"encoder": encoder, "data": "synthetic"})
    for direction in (E2P, "text->patent"):
        m = model.fit(direction, x, y)
        m.threshold, m.strong = threshold, strong
    return model


def test_features_shape_values_and_determinism():
    matches = _matches([3.0, 2.0, 0.5])
    idf = {"涂料": 5.0, "水性": 4.0, "方法": 0.2, "a": 9.0}
    docs = [["涂料", "水性", "方法"], ["涂料"], ["其他"]]
    x = pair_features(matches, ["涂料", "水性", "方法", "a"], docs, idf)
    assert x.shape == (3, len(FEATURES))
    col = dict(zip(FEATURES, x.T))
    assert col["score"].tolist() == [3.0, 2.0, 0.5]
    assert col["inv_rank"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert col["margin_next"].tolist() == pytest.approx([1.0, 1.5, 0.0])
    assert col["top1"].tolist() == [3.0] * 3
    # 方法 is uninformative (low IDF), "a" too short: only 涂料 and 水性 count
    assert col["shared_terms"].tolist() == [2, 1, 0]
    assert col["shared_idf"].tolist() == pytest.approx([9.0, 5.0, 0.0])
    assert col["shared_idf_share"][0] == pytest.approx(1.0)
    assert col["c_bm25"].tolist() == pytest.approx([30.0, 20.0, 5.0])
    assert np.array_equal(x, pair_features(matches, ["涂料", "水性", "方法", "a"], docs, idf))
    assert pair_features([], ["x"], [], idf).shape == (0, len(FEATURES))


def test_fit_predict_save_load_round_trip(tmp_path):
    model = _model("enc")
    x, y = _synthetic(seed=1)
    p = model.predict_proba(E2P, x)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3  # it learned the signal
    path = tmp_path / "model.json"
    model.save(path)
    assert path.stat().st_size < 20_000
    again = ConfidenceModel.load(path)
    assert np.allclose(again.predict_proba(E2P, x), p)
    assert again.threshold(E2P) == 0.3 and again.card["data"] == "synthetic"
    iso = ConfidenceModel()
    iso.fit(E2P, *_synthetic(), isotonic=True)
    iso.save(path)
    assert np.allclose(ConfidenceModel.load(path).predict_proba(E2P, x), iso.predict_proba(E2P, x))
    with pytest.raises(MatcherError, match="no patent->enterprise"):
        model.predict_proba("patent->enterprise", x)


def test_load_refuses_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(MatcherError, match="cannot read the confidence model"):
        ConfidenceModel.load(bad)
    bad.write_text(json.dumps({"features": ["score"], "directions": {}}), encoding="utf-8")
    with pytest.raises(MatcherError, match="other features"):
        ConfidenceModel.load(bad)
    with pytest.raises(MatcherError, match="all related or all unrelated"):
        ConfidenceModel().fit(E2P, np.zeros((3, len(FEATURES))), np.zeros(3))


def test_verdict_and_thresholds():
    assert verdict([0.9, 0.1], 0.3, 0.8) == SUITABLE
    assert verdict([0.5, 0.1], 0.3, 0.8) == RELATED_ONLY
    assert verdict([0.29, 0.1], 0.3, 0.8) == NONE_FOUND
    assert verdict([], 0.3, 0.8) == NONE_FOUND
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    y = np.array([1, 0, 1, 0, 1, 1])
    t = choose_threshold(conf, y, 0.75)  # keep 3 of the 4 related pairs
    assert t == 0.5
    assert precision_retention(conf, y, t) == (0.6, 0.75, 5)
    assert choose_threshold(conf, np.zeros(6), 0.8) == 0.0


def test_engine_attaches_confidence_without_reordering(demo_index, config, tmp_path, demo_enterprises):
    path = tmp_path / "model.json"
    _model(config.encoder).save(path)
    plain = Matcher.load(demo_index, config.model_copy(update={"confidence_model": None}))
    scored = Matcher.load(demo_index, config.model_copy(update={"confidence_model": path}))
    assert plain.confidence is None and scored.confidence is not None
    queries = [scored.query_for(Kind.ENTERPRISE, i) for i in demo_enterprises["id"].astype(str)[:5]] + ["水性涂料 环保"]
    before = plain.search(queries, Kind.PATENT, k=5, explain=False)
    after = scored.search(queries, Kind.PATENT, k=5, explain=False)
    for a, b in zip(before, after):
        assert [m.target_id for m in a.matches] == [m.target_id for m in b.matches]
        assert [m.score for m in a.matches] == [m.score for m in b.matches]
        assert all(m.confidence is None for m in a.matches) and a.verdict == ""
        assert all(0.0 <= m.confidence <= 1.0 for m in b.matches)
        assert b.verdict in (SUITABLE, RELATED_ONLY, NONE_FOUND)
    towards_enterprises = scored.search("水性涂料", Kind.ENTERPRISE, k=3, explain=False)[0]
    assert all(m.confidence is None for m in towards_enterprises.matches)
    # a model fitted under another encoder is not used
    _model("another-encoder").save(path)
    assert Matcher.load(demo_index, config.model_copy(update={"confidence_model": path})).confidence is None


def test_export_confidence_column_and_default_filter(demo_index, config, tmp_path):
    path = tmp_path / "model.json"
    model = _model(config.encoder, threshold=0.5)
    model.save(path)
    matcher = Matcher.load(demo_index, config.model_copy(update={"confidence_model": path}))
    NightlyJob(matcher, k=5, formats=("parquet",)).run(tmp_path / "default")
    NightlyJob(matcher, k=5, formats=("parquet",), keep_unconfident=True).run(tmp_path / "kept")
    kept = pd.read_parquet(tmp_path / "kept" / "matches" / "enterprise_to_patent.parquet")
    shown = pd.read_parquet(tmp_path / "default" / "matches" / "enterprise_to_patent.parquet")
    low = kept["confidence"] < 0.5
    assert kept["confidence"].between(0, 1).all() and low.any()
    assert len(shown) == int((~low).sum()) and (shown["confidence"] >= 0.5).all()
    manifest = json.loads((tmp_path / "default" / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["unconfident"][E2P] == {"threshold": 0.5, "below": int(low.sum()), "left_out": int(low.sum())}
    p2e = pd.read_parquet(tmp_path / "default" / "matches" / "patent_to_enterprise.parquet")
    assert p2e["confidence"].isna().all()


def test_fit_on_a_feature_subset_zeroes_the_others():
    x, y = _synthetic()
    m = ConfidenceModel().fit(E2P, x, y, features=["score", "c_dense"])
    used = {FEATURES.index("score"), FEATURES.index("c_dense")}
    assert all(c == 0.0 for i, c in enumerate(m.coef) if i not in used) and m.coef[FEATURES.index("score")] > 0


def test_lab_calibrate_fits_on_dev_and_measures_on_test():
    from matcher.lab.confidence import calibrate

    x, y = _synthetic(n=600)
    pairs = pd.DataFrame(x, columns=list(FEATURES)).assign(
        direction=["text->patent"] * 600, query_id=[f"q{i // 10}" for i in range(600)], label=y)
    dev = {f"q{i}" for i in range(30)}
    test = {f"q{i}" for i in range(30, 60)}
    model, report = calibrate(pairs, dev, test, card={"encoder": "enc"})
    t = report["text->patent"]["test"]
    assert t["pairs"] == 300 and t["pair_auc"] > 0.8 and t["retention"] >= 0.6
    assert sum(b["pairs"] for b in t["reliability"]) == 300
    assert model.has("text->patent") and not model.has(E2P) and model.card["metrics"]["text->patent"]["pairs"] == 300


def test_the_shipped_model_is_found_from_another_checkouts_path(config):
    from matcher.rank.confidence import SHIPPED

    moved = config.model_copy(update={"encoder": "use-m3", "confidence_model": "/elsewhere/checkout/" + SHIPPED.name})
    model = ConfidenceModel.for_config(moved)
    assert model is not None and model.has(E2P) and model.card["encoder"] == "use-m3"
    assert ConfidenceModel.for_config(config) is None  # fitted with USE-m3, not the test encoder
    with pytest.raises(MatcherError, match="cannot read"):
        ConfidenceModel.for_config(config.model_copy(update={"confidence_model": "/nowhere/model.json"}))


def test_features_do_not_depend_on_the_depth_ranked():
    scores = [10.0 - i * 0.5 for i in range(15)]
    deep = pair_features(_matches(scores), ["x"], [["x"]] * 15, {"x": 2.0})
    top = pair_features(_matches(scores[:10]), ["x"], [["x"]] * 10, {"x": 2.0})
    assert np.array_equal(deep[:9], top[:9])  # the tenth differs only by its margin to an eleventh
