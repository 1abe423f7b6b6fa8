"""The patent-activity prior: the model (fit, percentiles, save / load without pickle), its labels (a built index's
applicant link, the shared dev companies with every other filer held out), the engine's "activity" signal, its
export column and workbench line, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SHARED
from matcher.config import Direction, FusionConfig
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.export import EXPORT_COLUMNS, NightlyJob, result_rows
from matcher.rank.activity import ActivityModel, fold_of, profile_parts
from matcher.rank.fusion import ReciprocalRankFusion, WeightedSum
from matcher.rank.scorers import PriorScorer
from matcher.schema import Kind
from matcher.training.activity import index_labels, train_activity
from matcher.workbench.frames import activity_line
from pipelines.main import app

RUNNER = CliRunner()


def _profiles(n_active: int = 30, n_other: int = 60, seed: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Synthetic registry rows: joint-stock R&D manufacturers file patents, small traders do not."""
    rng = np.random.default_rng(seed)
    trades = ["电池", "电机", "涂料", "传感器", "膜材料", "阀门", "轴承", "芯片"]
    shops = ["服装", "日用品", "食品", "五金", "家具", "茶叶"]
    names, texts, labels = [], [], []
    for i in range(n_active):
        t = trades[i % len(trades)]
        names.append(f"华{i}{t}科技股份有限公司")
        texts.append(f"经营范围：{t}的研发、生产、销售；技术开发、技术服务；货物进出口")
        labels.append(True)
    for i in range(n_other):
        s = shops[int(rng.integers(len(shops)))]
        names.append(f"{i}号{s}商行有限公司")
        texts.append(f"{s}零售；{s}批发；仓储服务")
        labels.append(False)
    return names, texts, np.array(labels)


@pytest.fixture(scope="module")
def activity_dir(tmp_path_factory):
    names, texts, labels = _profiles()
    out = tmp_path_factory.mktemp("models") / "activity"
    model = ActivityModel.fit(names, texts, labels, min_df=2, card={"source": "synthetic"})
    model.save(out)
    return out


def test_model_learns_the_cues_and_round_trips(tmp_path, activity_dir):
    names, texts, labels = _profiles(seed=1)
    model = ActivityModel.load(activity_dir)
    odds = model.log_odds(names, texts)
    assert odds[labels].min() > odds[~labels].max()  # unseen rows of the same shape are told apart
    pct = model.percentiles(names, texts)
    assert pct.min() == 0.0 and pct.max() == pytest.approx((len(pct) - 1) / len(pct))
    assert (pct[labels].min() > pct[~labels]).all()
    # a demand's title is not a company profile: no value, and the organisations' percentiles ignore it
    mixed = model.percentiles([*names, "针织围巾防起球工艺改进"], [*texts, "我司主要生产针织围巾，需要研发新工艺"])
    assert np.isnan(mixed[-1]) and np.allclose(mixed[:-1], pct)
    # saved without pickle and reloaded: identical scores; the card names the data and the strongest cues
    again = ActivityModel.load(ActivityModel.load(activity_dir).save(tmp_path / "copy"))
    assert np.allclose(again.log_odds(names, texts), odds)
    card = (activity_dir / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in card and "positives | 30" in card and "feature:" in card
    # the "经营范围：" label the benchmarks put before a scope does not change the features
    assert profile_parts("甲（深圳）有限公司", "经营范围：研发") == profile_parts("甲(深圳)有限公司", "研发")
    assert model.log_odds([], []).shape == (0,)


def test_model_errors_are_actionable(tmp_path, activity_dir):
    names, texts, _ = _profiles()
    with pytest.raises(MatcherError, match="both patent-filing and other"):
        ActivityModel.fit(names, texts, np.zeros(len(names), dtype=bool))
    with pytest.raises(MatcherError, match="incomplete"):
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "activity.json").write_text(json.dumps({"format": "matcher-activity-2", "structure_features":
                                                       json.loads((activity_dir / "activity.json").read_text(encoding="utf-8"))["structure_features"],
                                                       "members": [{}]}), encoding="utf-8")
        (bad / "weights.npz").write_bytes((activity_dir / "weights.npz").read_bytes())
        ActivityModel.load(bad)
    with pytest.raises(MatcherError, match="differ in number"):
        ActivityModel.fit(names, texts[:-1], np.ones(len(names), dtype=bool))
    with pytest.raises(MatcherError, match="train-activity"):
        ActivityModel.load(tmp_path / "missing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "activity.json").write_text(json.dumps({"format": "something-else"}), encoding="utf-8")
    (tmp_path / "other" / "weights.npz").write_bytes((activity_dir / "weights.npz").read_bytes())
    with pytest.raises(MatcherError, match="another format"):
        ActivityModel.load(tmp_path / "other")


def test_labels_from_an_index_and_the_minimum(tmp_path):
    enterprises = pd.DataFrame({"name": ["甲科技有限公司", "乙有限公司", "丙有限公司", "围巾防起球工艺改进"],
                                "text": ["研发", "销售", "批发", "需要新工艺"]}, index=[0, 1, 5, 6])
    patents = pd.DataFrame({"applicant": ["甲科技有限公司；某大学", "丙有限公司", "丁公司"]}, index=[0, 1, 2])
    labels = index_labels(patents, enterprises)
    # the demand is neither patent-active nor a negative example: it is not a company profile
    assert labels.names == ["甲科技有限公司", "乙有限公司", "丙有限公司"]
    assert labels.labels.tolist() == [True, False, True] and labels.positives == 2
    assert index_labels(None, enterprises).positives == 0
    with pytest.raises(MatcherError, match="only 2 of 3 enterprises are patent-active"):
        train_activity(tmp_path / "m", labels, min_positives=10)
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_every_enterprise_is_scored_by_a_member_that_did_not_learn_it(tmp_path):
    names, texts, labels = _profiles()
    model = ActivityModel.fit(names, texts, labels, min_df=2, folds=2)
    assert len(model.members) == 2 and model.card["cross_validated_auc"] == 1.0
    # a labelled enterprise gets exactly the score of the member trained without its fold, as an unlabelled one
    # of the same fold would: leaving an enterprise out of training does not change how it is scored
    keys = [profile_parts(n, t)[0] for n, t in zip(names, texts)]
    held_out = ActivityModel.fit(names[1:], texts[1:], labels[1:], min_df=2, folds=2)
    f = fold_of(keys[0], 2)
    assert np.allclose(held_out.members[f].log_odds([keys[0]], [profile_parts(names[0], texts[0])[1]], None),
                       held_out.log_odds(names[:1], texts[:1]))
    same_fold = [i for i, k in enumerate(keys) if fold_of(k, 2) == f]
    assert np.allclose(model.log_odds([names[i] for i in same_fold], [texts[i] for i in same_fold]),
                       model.members[f].log_odds([keys[i] for i in same_fold], [profile_parts(names[i], texts[i])[1] for i in same_fold],
                                                 None))
    with pytest.raises(MatcherError, match="every training split"):
        few = np.zeros(len(names), dtype=bool)
        few[0] = True  # one positive: the split without it has none
        ActivityModel.fit(names, texts, few, min_df=2)


def test_the_registered_capital_is_a_cue_and_a_missing_one_counts_as_average(tmp_path):
    """Profiles that read alike are told apart by their registered capital (注册资本) when the records carry it."""
    names, texts, labels = _profiles()
    rng = np.random.default_rng(2)
    same_texts = ["电机的生产、销售；技术服务"] * len(names)  # the text says nothing
    capitals = [f"{rng.uniform(5000, 90000):.1f}(万元人民币)" if y else f"{rng.uniform(10, 800):.0f}万人民币" for y in labels]
    capitals[1], capitals[-1] = "", "JEAN"  # unknown for one of each: the training average
    model = ActivityModel.fit(names, same_texts, labels, capitals=capitals, min_df=2)
    assert model.card["with_capital"] == len(names) - 2 and model.card["cross_validated_auc"] > 0.95
    probe = ["某甲电机有限公司", "某乙电机有限公司", "某丙电机有限公司", "某丁电机有限公司"]
    odds = model.log_odds(probe, same_texts[:4], ["2亿元", "1,000(万美元)", "", "50万人民币"])
    assert odds[0] > odds[2] > odds[3] and odds[1] > odds[2]  # unknown capital sits between large and small
    assert np.allclose(model.log_odds(probe[2:3], same_texts[:1], None), odds[2])  # no capitals at all: the same
    top = [term for term, _ in model.top_terms(3)]
    assert "feature:capital_log" in top
    # a model trained without capitals reads none, and scores records that carry one as before
    plain = ActivityModel.fit(names, texts, labels, min_df=2)
    assert plain.card["with_capital"] == 0
    assert np.allclose(plain.log_odds(names, texts), plain.log_odds(names, texts, capitals))


def test_a_model_of_the_previous_format_still_loads_and_scores(tmp_path, activity_dir):
    """Models trained before the capital feature (format 2) score as they were trained, and save as format 2."""
    names, texts, _ = _profiles(seed=1)
    current = ActivityModel.load(activity_dir)
    old = tmp_path / "old"
    config = json.loads((activity_dir / "activity.json").read_text(encoding="utf-8"))
    assert config["format"] == "matcher-activity-3" and config["structure_features"][-1] == "capital_log"
    config["format"], config["structure_features"] = "matcher-activity-2", config["structure_features"][:-1]
    arrays = dict(np.load(activity_dir / "weights.npz"))
    for i in range(len(config["members"])):  # drop the capital column: mean, scale and its weight (the last one)
        for name in ("mean", "scale", "coef"):
            arrays[f"{i}_{name}"] = arrays[f"{i}_{name}"][:-1]
    old.mkdir()
    (old / "activity.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    np.savez(old / "weights.npz", **arrays)
    loaded = ActivityModel.load(old)
    assert loaded.members[0].features == tuple(config["structure_features"])
    # the capital weight of the synthetic model is ~0 (it was never known), so both read the same
    assert np.allclose(loaded.log_odds(names, texts, ["1亿元"] * len(names)), current.log_odds(names, texts), atol=1e-6)
    resaved = json.loads((loaded.save(tmp_path / "again") / "activity.json").read_text(encoding="utf-8"))
    assert resaved["format"] == "matcher-activity-2" and resaved["structure_features"] == config["structure_features"]


def test_prior_scorer_proposes_its_top_records():
    scorer = PriorScorer("activity", np.array([0.2, -np.inf, 0.9, np.nan, 0.5]))
    assert [c.tolist() for c in scorer.candidates([0, 1], 2)] == [[2, 4], [2, 4]]
    assert scorer.candidates([0], 10)[0].tolist() == [2, 4, 0]  # never a deleted row or one without a value
    assert scorer.score(0, np.array([4, 0])).tolist() == [0.5, 0.2]


def test_fusion_reads_nan_as_no_evidence():
    scores = {"bm25": np.array([3.0, 1.0, 2.0, 0.0]), "activity": np.array([0.9, np.nan, 0.1, 0.5])}
    z = WeightedSum({"activity": 1.0}).fuse(scores)
    known = np.array([0.9, 0.1, 0.5])
    assert z[1] == 0.0 and np.allclose(z[[0, 2, 3]], (known - known.mean()) / known.std())
    rrf = ReciprocalRankFusion({"activity": 1.0}, k=60).fuse(scores)
    parts = 1 / (60 + np.array([1.0, 3.0, 2.0]))
    assert np.allclose(rrf[[0, 2, 3]], parts) and rrf[1] == pytest.approx(parts.mean())
    assert np.allclose(WeightedSum({"activity": 1.0}).fuse({"activity": np.full(3, np.nan)}), 0.0)


def test_engine_ranks_enterprises_with_the_activity_percentile(matcher, activity_dir):
    assert len(matcher.signals.activity) == 0  # no model configured: no signal, no component
    query = matcher.query_for(Kind.PATENT, "DEMO-P-028")
    plain = matcher.search(query, Kind.ENTERPRISE, k=3)[0]
    assert "activity" not in plain.matches[0].components
    assert np.isnan(result_rows("patent->enterprise", [plain], {})[0]["activity"])  # blank in the export, not 0
    matcher.config = matcher.config.model_copy(update={"activity_model": activity_dir})
    records = matcher.collection(Kind.ENTERPRISE).records
    expected = ActivityModel.load(activity_dir).percentiles(records["name"].tolist(), records["text"].tolist(),
                                                            records["capital"].tolist())
    assert np.allclose(matcher.signals.activity[records.index.to_numpy()], expected, equal_nan=True)
    res = matcher.search(query, Kind.ENTERPRISE, k=len(records))[0]  # the whole list
    by_id = {m.target_id: m for m in res.matches}
    row_of = dict(zip(records["id"], expected))
    assert all(m.components["activity"] == pytest.approx(row_of[i], nan_ok=True) for i, m in by_id.items())
    # the demo's 15 company profiles get percentiles, its 25 demands none
    assert {i[:6] for i, m in by_id.items() if np.isnan(m.components["activity"])} == {"DEMO-D"}
    assert np.isfinite(expected).sum() == 15
    # a dominant weight puts the most patent-active enterprise first; enterprise -> patent never uses it
    fusion = dict(matcher.config.fusion)
    fusion[Direction.PATENT_TO_ENTERPRISE] = FusionConfig(weights={"bm25": 0.01, "activity": 100.0})
    matcher.config = matcher.config.model_copy(update={"fusion": fusion})
    top = matcher.search(query, Kind.ENTERPRISE, k=1)[0].matches[0]
    assert top.target_id == records["id"].iloc[int(np.nanargmax(expected))]
    assert "activity" not in matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-C-012"), Kind.PATENT, k=1)[0].matches[0].components
    # the export carries it, the workbench says it in words
    row = result_rows("patent->enterprise", [res], {})[0]
    assert "activity" in EXPORT_COLUMNS and row["activity"] == pytest.approx(res.matches[0].components["activity"], abs=1e-6, nan_ok=True)
    assert "87%" in activity_line(0.87)
    # deleting an enterprise recomputes the percentiles over the rest; its row is never proposed again
    gone = res.matches[0].target_id
    matcher.delete(Kind.ENTERPRISE, [gone])
    after = matcher.search(query, Kind.ENTERPRISE, k=len(records))[0]
    assert gone not in [m.target_id for m in after.matches] and len(after.matches) == len(records) - 1


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "data" / "registry").is_dir(), reason="needs ../shared")
def test_shared_labels_hold_out_every_other_filer(tmp_path):
    from dataclasses import replace

    from matcher.lab.activity import shared_labels, train_activity

    labels = shared_labels(SHARED, holdout_fold=0)
    dev_all = shared_labels(SHARED)
    assert dev_all.positives == 118 and len(dev_all.labels) == 20_231 - len(dev_all.held_out["other_filers"])
    assert len(dev_all.held_out["other_filers"]) >= 100
    held = labels.held_out["dev_fold"]
    assert held and not (set(labels.names) & held) and labels.positives == 118 - len(held)
    model = train_activity(tmp_path / "m", labels, shared_dir=SHARED)
    auc = model.card["held_out_auc"]
    assert auc["dev_fold"] > 0.65 and auc["other_filers"] > 0.65  # companies it never saw
    # labels already cut by company fold still cross-fit (the members' split is independent of it)
    assert model.card["cross_validated_auc"] > 0.6
    # the registry's registered capital is read for most companies; without it the model sees name and scope only
    assert len(labels.capitals) == len(labels.names) and model.card["with_capital"] > 0.8 * len(labels.names)
    text_only = train_activity(tmp_path / "t", replace(labels, capitals=None), shared_dir=SHARED)
    assert text_only.card["with_capital"] == 0
    assert text_only.card["held_out_auc"]["other_filers"] < auc["other_filers"]  # the capital is a cue on unseen filers


def test_cli_train_activity_from_an_index(tmp_path, demo_index):
    result = RUNNER.invoke(app, ["train-activity", "--out", str(tmp_path / "m"), "--from-index", str(demo_index)])
    assert result.exit_code == 2 and "only 2 of 15 enterprises are patent-active" in result.output  # demands left out
    ok = RUNNER.invoke(app, ["train-activity", "--out", str(tmp_path / "m"), "--from-index", str(demo_index),
                             "--min-positives", "2", "--min-df", "1"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output.strip().splitlines()[-1])
    assert report["positives"] == 2 and report["enterprises"] == 15 and "cross_validated_auc" in report
    assert ActivityModel.load(tmp_path / "m").card["source"].startswith("the records of the index")
    bad = RUNNER.invoke(app, ["train-activity", "--out", str(tmp_path / "x"), "--from-index", str(tmp_path / "none")])
    assert bad.exit_code != 0 and "no enterprises in an index" in bad.output


def test_evaluation_reads_the_registered_capital_from_the_registry(tmp_path):
    """A BEIR profile has a name and a scope only; `evaluate --enterprise-attributes` fills its registered capital from
    the registry it was cut from (matched by name), so the prior ranks the benchmark's companies as it ranks an index's."""
    from matcher.lab.evaluate import with_attributes

    records = pd.DataFrame({"id": ["a", "b", "c"], "name": ["甲（深圳）电机有限公司", "乙电机有限公司", "丙电机有限公司"],
                            "text": ["电机"] * 3, "capital": ["", "", "80万人民币"], "region": ["", "", ""]})
    registry = pd.DataFrame({"id": ["R1", "R2", "R3"], "name": ["甲(深圳)电机有限公司", "丙电机有限公司", "丁有限公司"],
                             "text": ["x"] * 3, "capital": ["2亿元", "5000(万元人民币)", "1万"], "region": ["广东", "浙江", ""]})
    filled = with_attributes(records, registry)
    assert filled["capital"].tolist() == ["2亿元", "", "80万人民币"]  # by name; a value already there wins
    assert filled["region"].tolist() == ["广东", "", "浙江"] and records["capital"].tolist() == ["", "", "80万人民币"]
    assert with_attributes(records, None) is records

    # a p2c benchmark of two companies whose profiles read alike: the filer is the one with the large capital
    names, texts, labels = _profiles()
    rng = np.random.default_rng(3)
    capitals = [f"{rng.uniform(5000, 90000):.0f}(万元人民币)" if y else f"{rng.uniform(10, 800):.0f}万人民币" for y in labels]
    model_dir = ActivityModel.fit(names, ["电机的生产、销售"] * len(names), labels, capitals=capitals, min_df=2).save(tmp_path / "m")
    bench = tmp_path / "p2c-mini"
    (bench / "qrels").mkdir(parents=True)
    profiles = [("E1", "甲电机有限公司"), ("E2", "乙电机有限公司")]
    (bench / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": n, "text": "经营范围：电机的生产、销售"},
                                                           ensure_ascii=False) + "\n" for i, n in profiles), encoding="utf-8")
    (bench / "queries.jsonl").write_text(json.dumps({"_id": "P1", "text": "一种电机。一种电机转子结构"}, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    (bench / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nP1\tE2\t1\n", encoding="utf-8")
    registry_file = tmp_path / "registry.csv"
    pd.DataFrame({"统一社会信用代码": ["X1", "X2"], "企业名称": ["甲电机有限公司", "乙电机有限公司"], "经营范围": ["电机"] * 2,
                  "注册资金": ["20万人民币", "30000(万元人民币)"]}).to_csv(registry_file, index=False)
    config = tmp_path / "prior.json"
    config.write_text(json.dumps({"activity_model": str(model_dir), "fusion": {"patent->enterprise": {
        "weights": {"bm25": 0.01, "activity": 10.0}}}}), encoding="utf-8")
    result = RUNNER.invoke(app, ["lab", "evaluate", str(bench), "--config", str(config), "--enterprise-attributes", str(registry_file)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["p2c-mini"]["mrr@10"] == 1.0
    assert "registered capital and region from the 2 records of" in " ".join(result.stderr.split())
    swapped = tmp_path / "swapped.csv"
    pd.DataFrame({"统一社会信用代码": ["X1", "X2"], "企业名称": ["甲电机有限公司", "乙电机有限公司"], "经营范围": ["电机"] * 2,
                  "注册资金": ["30000(万元人民币)", "20万人民币"]}).to_csv(swapped, index=False)
    result = RUNNER.invoke(app, ["lab", "evaluate", str(bench), "--config", str(config), "--enterprise-attributes", str(swapped)])
    assert json.loads(result.stdout.strip().splitlines()[-1])["p2c-mini"]["mrr@10"] == 0.5  # the capital decides
    result = RUNNER.invoke(app, ["lab", "evaluate", str(bench), "--config", str(config), "--enterprise-attributes", "none"])
    assert result.exit_code == 0 and "registered capital" not in result.stderr


def test_nightly_lists_of_patents_are_ranked_again_when_the_activity_model_is_retrained(demo_index, tmp_path, activity_dir, config):
    model = Path(shutil.copytree(activity_dir, tmp_path / "activity"))
    settings = config.model_copy(update={"activity_model": model})
    out, p2e = tmp_path / "out", Direction.PATENT_TO_ENTERPRISE.value

    def run():
        return NightlyJob(Matcher.load(demo_index, settings), formats=("parquet",)).run(out)

    run()
    again = run()  # the prior's values follow from the model and the records: neither changed
    assert again.mode == "incremental" and again.recomputed[p2e] == 0
    later = max(f.stat().st_mtime_ns for f in model.rglob("*")) + 10**9
    for f in model.rglob("*"):  # retrained in place
        os.utime(f, ns=(later, later))
    retrained = run()
    assert p2e not in retrained.recomputed
    assert any(n.startswith(f"{p2e}: every list ranked again: the enterprises ranked changed") for n in retrained.notes)


def _scored(monkeypatch) -> list[int]:
    """Record how many profiles each call of the activity model scores."""
    calls: list[int] = []
    real = ActivityModel.organisation_log_odds

    def counting(self, names, texts, capitals=None):
        calls.append(len(names))
        return real(self, names, texts, capitals)

    monkeypatch.setattr(ActivityModel, "organisation_log_odds", counting)
    return calls


def _expected_percentiles(matcher: Matcher, activity_dir: Path, calls: list[int]) -> np.ndarray:
    """The percentiles of scoring every enterprise afresh (not counted in `calls`)."""
    records, before = matcher.collection(Kind.ENTERPRISE).records, len(calls)
    out = ActivityModel.load(activity_dir).percentiles(records["name"].tolist(), records["text"].tolist(),
                                                       records["capital"].tolist())
    del calls[before:]
    return out


def test_the_index_keeps_the_activity_scores_and_a_change_scores_only_the_changed_records(tmp_path, matcher,
                                                                                          activity_dir, monkeypatch):
    activity_dir = Path(shutil.copytree(activity_dir, tmp_path / "activity"))  # retrained below
    matcher.config = matcher.config.model_copy(update={"activity_model": activity_dir})
    calls = _scored(monkeypatch)
    matcher.save(tmp_path / "index")
    enterprises = matcher.collection(Kind.ENTERPRISE)
    assert calls == [len(enterprises)] and (tmp_path / "index" / "activity.npz").is_file()
    # a fresh process (the workbench, the nightly job) reads the percentiles without scoring anyone
    loaded = Matcher.load(tmp_path / "index")
    rows = enterprises.records.index.to_numpy()
    assert np.array_equal(loaded.signals.activity[rows], _expected_percentiles(loaded, activity_dir, calls), equal_nan=True)
    assert calls == [len(enterprises)]
    # one changed and one new company: only those two are scored, the percentiles are those of a full scoring
    company = enterprises.records.loc[enterprises.records["id"] == "DEMO-C-003"].iloc[0]
    frame = pd.DataFrame([{**company.to_dict(), "text": company["text"] + "；锂电池隔膜研发"},
                          {**company.to_dict(), "id": "NEW-C-1", "name": "示例新材料股份有限公司"}])
    loaded.index(Kind.ENTERPRISE, frame[[c for c in frame if not c.startswith("_")]])
    rows = loaded.collection(Kind.ENTERPRISE).records.index.to_numpy()
    assert np.array_equal(loaded.signals.activity[rows], _expected_percentiles(loaded, activity_dir, calls), equal_nan=True)
    assert calls == [len(enterprises), 2]
    loaded.save(tmp_path / "index")
    assert calls == [len(enterprises), 2]  # saved as scored
    # the model retrained: everyone is scored again
    later = (activity_dir / "weights.npz").stat().st_mtime + 60
    os.utime(activity_dir / "weights.npz", (later, later))
    again = Matcher.load(tmp_path / "index")
    assert np.array_equal(again.signals.activity[rows], _expected_percentiles(again, activity_dir, calls), equal_nan=True)
    assert calls[-1] == len(rows)


def test_a_build_with_nothing_changed_adds_missing_activity_scores(tmp_path, config, activity_dir):
    from matcher.build import build_index
    from matcher.ingest import load_records

    from conftest import DEMO

    cfg = config.model_copy(update={"activity_model": activity_dir})
    inputs = [load_records(DEMO / "patents.csv", Kind.PATENT), load_records(DEMO / "enterprises.csv", Kind.ENTERPRISE)]
    build_index(Matcher(cfg), inputs, tmp_path / "index")
    (tmp_path / "index" / "activity.npz").unlink()  # an index saved before the scores were kept
    report = build_index(Matcher(cfg), inputs, tmp_path / "index")
    assert report.saved and "activity scores were missing" in report.reason
    assert (tmp_path / "index" / "activity.npz").is_file()
    report = build_index(Matcher(cfg), inputs, tmp_path / "index")
    assert not report.saved and report.reason == "the saved index has the same settings"
