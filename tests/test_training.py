"""Training the static encoder: a tiny run on the demo corpus loads in the engine, is reproducible, `matcher train
--from-index` trains on an index's records; the lab's shared-data pair builder trains only on the dev companies'
labels (and can hold a fold of them out), and `matcher lab train` cross-validates over those folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from matcher.lab.folds import BenchmarkExclusions, benchmark_exclusions
from matcher.training.pairs import corpus_pairs, scope_items, summarize
from matcher.training.train import TrainConfig, train_encoder
from mini_shared import mini_shared, write_bench

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
PROBES = ["一种可降解聚乳酸薄膜及其制备方法", "针织围巾防起球工艺改进", "锂电池正极材料"]


def _tiny_config(seed: int = 0) -> TrainConfig:
    return TrainConfig(seed=seed, epochs=2, dim=32, vocab_size=600, batch_size=16, lr=0.05,
                       registry_sample=0, threads=1)


@pytest.fixture(scope="module")
def demo_pairs():
    patents = pd.read_csv(DEMO / "patents.csv", dtype=str).fillna("")
    enterprises = pd.read_csv(DEMO / "enterprises.csv", dtype=str).fillna("")
    return corpus_pairs(patents, enterprises, seed=0)


def _train(tmp_path: Path, name: str, pairs, seed: int = 0) -> Path:
    out = tmp_path / name
    train_encoder(out, pairs=pairs, config=_tiny_config(seed), log=lambda _msg: None)
    return out


def test_corpus_pairs_cover_every_group(demo_pairs):
    counts = summarize(demo_pairs)
    assert counts["patent_title"] == 60
    assert counts["company_name"] == 40
    assert counts["scope_item"] > 0
    assert all(p.anchor and p.positive and p.anchor != p.positive for p in demo_pairs)


def test_trained_model_loads_in_engine_and_is_reproducible(tmp_path, demo_pairs):
    from matcher.encode import load_encoder

    first = _train(tmp_path, "a", demo_pairs)
    second = _train(tmp_path, "b", demo_pairs)
    for name in ("modules.json", "tokenizer.json", "model.safetensors", "README.md", "training_config.json"):
        assert (first / name).is_file(), name
    card = (first / "README.md").read_text(encoding="utf-8")
    assert "patent_title" in card and "Training time" in card

    enc_a, enc_b = load_encoder(first), load_encoder(second)
    vec_a, vec_b = enc_a.encode(PROBES), enc_b.encode(PROBES)
    assert vec_a.shape == (3, 32) and vec_a.dtype == np.float32
    assert np.allclose(np.linalg.norm(vec_a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vec_a, vec_b)  # same seed, same data -> identical vectors
    assert enc_a.model_id.split("@")[1] == enc_b.model_id.split("@")[1]

    other = load_encoder(_train(tmp_path, "c", demo_pairs, seed=1)).encode(PROBES)
    assert not np.allclose(vec_a, other)


def test_training_pulls_pairs_together(tmp_path, demo_pairs):
    from matcher.encode import load_encoder

    enc = load_encoder(_train(tmp_path, "m", demo_pairs))
    titles = [p.anchor for p in demo_pairs if p.source == "patent_title"][:20]
    bodies = [p.positive for p in demo_pairs if p.source == "patent_title"][:20]
    sims = enc.encode(titles) @ enc.encode(bodies).T
    # each title is closer to its own abstract than the average other abstract
    assert float(np.mean(np.diag(sims))) > float(np.mean(sims)) + 0.1


def test_ensemble_config_runs_the_engine_with_a_trained_model(tmp_path, demo_pairs, demo_patents, demo_enterprises, cache_dir):
    # config/ensemble.json: USE-m3 + the trained model, with the fusion chosen for that ensemble (docs/evaluation.md)
    from matcher.config import Direction, MatcherConfig, load_config
    from matcher.engine import Matcher
    from matcher.schema import Kind

    shipped = load_config(ROOT / "config" / "ensemble.json")
    assert shipped.encoder == "use-m3+models/patent-static" and str(shipped.activity_model) == "models/activity"
    assert shipped.fusion_for(Direction.PATENT_TO_ENTERPRISE).weights["activity"] == 3.0
    assert shipped.fusion_for(Direction.ENTERPRISE_TO_PATENT).weights["items"] == 1.0
    assert shipped.fusion_for(Direction.ENTERPRISE_TO_PATENT).weights["reciprocal"] == 2.0
    assert shipped.fusion_for(Direction.TEXT_TO_PATENT) == MatcherConfig().fusion_for(Direction.TEXT_TO_PATENT)

    model = _train(tmp_path, "m", demo_pairs)
    config = load_config(ROOT / "config" / "ensemble.json", encoder=f"use-m3+{model}", cache_dir=cache_dir)
    # the activity model is trained from ../shared (not here on CI); the patents' reciprocal lists, ranked by
    # patent -> enterprise, need it, so this checks the rest of the configuration without it
    config = config.model_copy(update={"activity_model": None})
    matcher = Matcher(config)
    matcher.index(Kind.PATENT, demo_patents)
    matcher.index(Kind.ENTERPRISE, demo_enterprises)
    assert matcher.collection(Kind.PATENT).dim == 512 + 32
    top = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=5)[0].matches
    assert "DEMO-P-049" in [m.target_id for m in top]  # the demand written for that patent
    assert set(top[0].components) == {"dense", "bm25", "items", "portfolio", "reciprocal"}
    assert top[0].components["portfolio"] == 0.0  # a demand holds no patents


def test_pair_builder_excludes_benchmark_companies(tmp_path):
    c2p = write_bench(
        tmp_path / "c2p-dev",
        [{"_id": "C1", "text": "甲材料科技有限公司。经营范围：新材料技术开发"}],
        [{"_id": "P1", "title": "一种膜", "text": "一种膜的制备方法"}],
        [("C1", "P1")],
    )
    p2c = write_bench(
        tmp_path / "p2c-dev",
        [{"_id": "P2", "text": "一种电池。一种电池的制备方法"}],
        [{"_id": "C9", "title": "乙电池有限公司", "text": "经营范围：电池制造"}],
        [("P2", "C9")],
    )
    excl = benchmark_exclusions([c2p, p2c, tmp_path / "missing-dev"])
    assert excl.companies == {"甲材料科技有限公司", "乙电池有限公司"}
    assert excl.patent_ids == {"P1", "P2"}

    enterprises = pd.DataFrame({
        "name": ["甲材料科技有限公司", "乙电池有限公司", "丙机械制造有限公司"],
        "text": ["经营范围：新材料技术开发、膜材料销售", "经营范围：锂电池、电池材料制造", "经营范围：数控机床、机械零部件加工"],
    })
    pairs = corpus_pairs(enterprises=enterprises, exclude_companies=excl.companies)
    text = " ".join(p.anchor + p.positive for p in pairs)
    assert "甲材料" not in text and "乙电池" not in text
    assert "丙机械" in text
    assert isinstance(BenchmarkExclusions(), BenchmarkExclusions)


def test_company_links_come_from_dev_companies_only(tmp_path):
    from matcher.lab.folds import company_fold, fold_query_ids, training_exclusions
    from matcher.lab.training import shared_pairs
    from matcher.text.normalize import company_key

    shared = mini_shared(tmp_path / "shared")
    dev = ["甲材料科技有限公司", "乙电池（深圳）有限公司", "丙机械有限公司"]

    full = training_exclusions(shared)
    # the labelled company outside the dev sets is a possible held-out answer: never trained on
    assert full.companies == {"丁测试科技有限公司"} and full.patent_ids == {"P3"}
    pairs = shared_pairs(shared, registry_sample=0, sources=["company_patent", "applicant_patent", "company_name"])
    text = " ".join(p.anchor + p.positive for p in pairs)
    assert "丁测试" not in text and "装置3" not in text
    linked = {company_key(p.anchor.split("。", 1)[0]) for p in pairs if p.source == "company_patent"}
    assert linked == {company_key(n) for n in dev}  # full-width / half-width names are one company

    for fold in (0, 1):
        held = {company_key(n) for n in dev if company_fold(n, 2) == fold}
        excl = training_exclusions(shared, holdout_fold=fold, folds=2)
        assert excl.companies == held | {"丁测试科技有限公司"}
        fold_pairs = shared_pairs(shared, holdout_fold=fold, folds=2, registry_sample=0,
                                  sources=["company_patent", "applicant_patent", "company_name", "scope_item"])
        heads = {company_key(p.anchor.split("。", 1)[0]) for p in fold_pairs}
        assert not heads & excl.companies
        c2p_queries = fold_query_ids(shared / "benchmarks" / "c2p-dev", fold, 2)
        p2c_queries = fold_query_ids(shared / "benchmarks" / "p2c-dev", fold, 2)
        expected = {f"C{i}" for i, n in enumerate(dev) if company_fold(n, 2) == fold}
        assert c2p_queries == expected
        assert p2c_queries == {q.replace("C", "P") for q in expected}
    assert company_fold("腾讯科技（深圳）有限公司", 2) == company_fold("腾讯科技(深圳)有限公司", 2)


def test_holdout_benchmarks_keep_only_the_fold_queries(tmp_path):
    from matcher.lab.evaluate import load_beir
    from matcher.lab.folds import company_fold, fold_query_ids
    from matcher.lab.training import holdout_benchmarks

    shared = mini_shared(tmp_path / "shared")
    fold = company_fold("甲材料科技有限公司", 2)
    config = TrainConfig(holdout_fold=fold, folds=2)
    cut = holdout_benchmarks([shared / "benchmarks" / "c2p-dev", shared / "benchmarks" / "p2c-dev"], config, tmp_path / "cut")
    c2p, p2c = (load_beir(folder) for folder in cut)
    assert cut[0].name == "c2p-dev" and cut[0].parent == tmp_path / "cut"
    assert "C0" in c2p.queries and "P0" in p2c.queries
    assert all(company_fold(text.split("。")[0], 2) == fold for text in c2p.queries.values())
    assert len(c2p.corpus) == 5 and len(p2c.corpus) == 5  # the corpus is whole
    assert c2p.qrels["C0"] == {"P0": 1}
    assert fold_query_ids(shared / "benchmarks" / "kw2p-dev", 0, 2) is None


def test_cross_validation_scores_each_fold_on_unseen_companies(tmp_path):
    from matcher.lab.training import cross_validate

    shared = mini_shared(tmp_path / "shared")
    out = tmp_path / "cv"
    # scored as the ensemble of USE-m3 and each fold's model (what docs/evaluation.md reports)
    pooled = cross_validate(out, shared_dir=shared, config=_tiny_config(), cache_dir=tmp_path / "cache",
                            eval_encoder="use-m3*0.5+{model}", log=lambda _m: None)
    assert set(pooled) == {"c2p-dev", "p2c-dev"}
    assert all(entry["encoder"] == "use-m3*0.5+{model}" for entry in pooled.values())
    assert pooled["c2p-dev"]["queries"] == 3 and pooled["p2c-dev"]["queries"] == 3
    for entry in pooled.values():
        assert sum(f["queries"] for f in entry["folds"]) == entry["queries"]
        assert 0.0 <= entry["best"]["ndcg@10"] <= 1.0 and entry["best"]["ndcg@10"] >= entry["dense"]["ndcg@10"] - 1e-9
        assert entry["fusion"]["method"] in ("weighted", "rrf")
    saved = json.loads((out / "cross_validation.json").read_text(encoding="utf-8"))
    assert saved["c2p-dev"]["best"] == pytest.approx(pooled["c2p-dev"]["best"])
    for fold in {f["fold"] for e in pooled.values() for f in e["folds"]}:
        card = (out / f"fold-{fold}" / "README.md").read_text(encoding="utf-8")
        assert f"fold {fold} of 2" in card
    # re-scoring the same fold models (e.g. with another ensemble weight) does not retrain them
    messages: list[str] = []
    again = cross_validate(out, shared_dir=shared, config=_tiny_config(), cache_dir=tmp_path / "cache",
                           eval_encoder="use-m3*0.5+{model}", reuse_models=True, log=messages.append)
    assert sum("reusing the model" in m for m in messages) == 2 and not any("epoch" in m for m in messages)
    assert again["c2p-dev"]["best"] == pytest.approx(pooled["c2p-dev"]["best"])
    assert again["p2c-dev"]["folds"] == pooled["p2c-dev"]["folds"]  # training times carried over
    # {fold} names the same fold's model of another run (here this run's own: the same as weighting it twice)
    twice = cross_validate(out, shared_dir=shared, config=_tiny_config(), cache_dir=tmp_path / "cache",
                           eval_encoder="use-m3*0.5+{model}*2", reuse_models=True, log=lambda _m: None)
    by_fold = cross_validate(out, shared_dir=shared, config=_tiny_config(), cache_dir=tmp_path / "cache",
                             eval_encoder=f"use-m3*0.5+{{model}}+{out}/fold-{{fold}}", reuse_models=True,
                             log=lambda _m: None)
    for name in ("c2p-dev", "p2c-dev"):
        assert by_fold[name]["best"] == pytest.approx(twice[name]["best"])
        assert by_fold[name]["dense"] == pytest.approx(twice[name]["dense"])
    with pytest.raises(ValueError, match="must contain"):
        cross_validate(out, shared_dir=shared, config=_tiny_config(), eval_encoder="use-m3", log=lambda _m: None)
    # --eval-config: each fold's queries also scored end to end by that configuration, asked as stored records
    from matcher.config import load_config
    from matcher.engine import Matcher
    from matcher.lab.evaluate import load_beir, read_run, run_benchmark, score_run

    config_file = tmp_path / "engine.json"
    config_file.write_text(json.dumps({"fusion": {"enterprise->patent": {"method": "rrf", "weights": {
        "dense": 0.25, "bm25": 0.25, "items": 0.5, "reciprocal": 1.0}}}}), encoding="utf-8")
    engine = cross_validate(out, shared_dir=shared, config=_tiny_config(), cache_dir=tmp_path / "cache",
                            eval_encoder="use-m3*0.5+{model}", reuse_models=True, eval_config=config_file,
                            log=lambda _m: None)
    for name, entry in engine.items():
        folds = entry["folds"]
        assert entry["engine"]["config"] == str(config_file)
        for metric in ("ndcg@10", "recall@100", "mrr@10"):
            pooled_mean = sum(f["engine"][metric] * f["queries"] for f in folds) / entry["queries"]
            assert entry["engine"][metric] == pytest.approx(pooled_mean)
        assert entry["best"] == pytest.approx(pooled[name]["best"])  # the grid is untouched
        # the folds' rankings, pooled, rank every query once and score the pooled metrics
        run = read_run(entry["engine"]["run"])
        bench = load_beir(shared / "benchmarks" / name)
        assert sorted(run) == sorted(q for f in range(2)
                                     for q in load_beir(out / f"fold-{f}" / "eval" / "benchmarks" / name).queries)
        assert score_run(run, {q: bench.qrels[q] for q in run}) == pytest.approx(
            {m: entry["engine"][m] for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")})
    fold = engine["c2p-dev"]["folds"][0]
    cfg = load_config(config_file, encoder=f"use-m3*0.5+{out}/fold-{fold['fold']}", cache_dir=tmp_path / "cache")
    direct = run_benchmark(out / f"fold-{fold['fold']}" / "eval" / "benchmarks" / "c2p-dev", Matcher(cfg),
                           query_records=shared / "benchmarks" / "p2c-dev" / "corpus.jsonl")
    assert fold["engine"] == pytest.approx(direct)


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "benchmarks" / "c2p-dev").is_dir(), reason="shared data not present")
def test_shared_pairs_hold_out_labelled_companies():
    from matcher.lab.folds import training_exclusions
    from matcher.lab.training import shared_pairs
    from matcher.text.normalize import company_key

    shared = SHARED
    for fold in (None, 0):
        excl = training_exclusions(shared, holdout_fold=fold)
        assert len(excl.companies) >= 100
        pairs = shared_pairs(shared, exclusions=excl, registry_sample=0,
                             sources=["company_patent", "applicant_patent", "company_name"])
        heads = {company_key(p.anchor.split("。", 1)[0]) for p in pairs}
        assert not heads & excl.companies
        assert {p.source for p in pairs} == {"company_patent", "applicant_patent", "company_name"}
    assert sum(p.source == "company_patent" for p in shared_pairs(shared, registry_sample=0, sources=["company_patent"])) == 305


def test_scope_items_split_and_drop_commercial_words():
    items = scope_items("经营范围：锂电池正极材料的研发、生产；销售；货物进出口（依法须经批准的项目，经相关部门批准后方可开展经营活动）")
    assert "锂电池正极材料的研发" in items
    assert "销售" not in items and "货物进出口" not in items


def test_train_from_a_built_index_on_the_users_own_corpus(tmp_path, demo_index):
    """`matcher train --from-index`: pairs from the indexed records (no ../shared), including each enterprise's
    profile <-> the patents it holds; the model card says where the pairs came from; the engine can use it."""
    from typer.testing import CliRunner

    from matcher.encode import load_encoder
    from matcher.index.collection import Collection
    from matcher.training.pairs import index_pairs
    from pipelines.cli import app
    from pipelines.main import app as main_app

    patents = Collection.read_records(demo_index / "patent")
    enterprises = Collection.read_records(demo_index / "enterprise")
    assert len(patents) == 60 and list(patents.index) == sorted(patents.index)
    pairs = index_pairs(patents, enterprises, seed=0)
    counts = summarize(pairs)
    assert counts["patent_title"] == 60 and counts["company_name"] == 40
    held = sorted((p.anchor.split("。", 1)[0], p.positive.split("。", 1)[0]) for p in pairs if p.source == "company_patent")
    assert held == [("固驰汽车零部件有限公司", "一种汽车线束连接器防水密封结构"), ("睿驱电子科技有限公司", "一种新能源汽车电机控制器散热结构")]

    out = tmp_path / "own"
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--from-index", str(demo_index), "--epochs", "1",
                                      "--dim", "32", "--vocab-size", "600", "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pairs"] == counts
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"the records of the index at {demo_index}" in card and "Registry data" not in card
    assert load_encoder(out).encode(PROBES).shape == (3, 32)

    missing = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "x"), "--from-index", str(tmp_path / "none")])
    assert missing.exit_code != 0 and "no built index" in missing.output
    # the product trains on an index only: the shared data and the cross-validation are `matcher lab train`
    no_index = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "z")])
    assert no_index.exit_code != 0 and "--from-index" in no_index.output
    both = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "y"), "--from-index", str(demo_index), "--cross-validate"])
    assert both.exit_code != 0 and "--cross-validate" in both.output
    lab = CliRunner().invoke(main_app, ["lab", "train", "--out", str(tmp_path / "y"), "--from-index", str(demo_index),
                                        "--cross-validate"])
    assert lab.exit_code != 0 and "--cross-validate" in lab.output and "Missing option" not in lab.output
