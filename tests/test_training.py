"""Training the static encoder: a tiny run on the demo corpus loads in the engine, is reproducible, and the pair
builder keeps dev-benchmark companies out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matcher.training.pairs import BenchmarkExclusions, benchmark_exclusions, corpus_pairs, scope_items, summarize
from matcher.training.train import TrainConfig, train_encoder

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


def _write_bench(folder: Path, queries: list[dict], corpus: list[dict], qrels: list[tuple[str, str]]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    for name, rows in (("queries.jsonl", queries), ("corpus.jsonl", corpus)):
        (folder / name).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, d in qrels]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_pair_builder_excludes_benchmark_companies(tmp_path):
    c2p = _write_bench(
        tmp_path / "c2p-dev",
        [{"_id": "C1", "text": "甲材料科技有限公司。经营范围：新材料技术开发"}],
        [{"_id": "P1", "title": "一种膜", "text": "一种膜的制备方法"}],
        [("C1", "P1")],
    )
    p2c = _write_bench(
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


@pytest.mark.skipif(not (ROOT.parent / "shared" / "benchmarks" / "c2p-dev").is_dir(), reason="shared data not present")
def test_shared_pairs_never_use_dev_companies():
    from matcher.training.pairs import DEV_BENCHMARKS, shared_pairs

    shared = ROOT.parent / "shared"
    excl = benchmark_exclusions(shared / "benchmarks" / name for name in DEV_BENCHMARKS)
    assert len(excl.companies) >= 100
    pairs = shared_pairs(shared, exclusions=excl, registry_sample=0,
                         sources=["company_patent", "applicant_patent", "company_name"])
    heads = {p.anchor.split("。", 1)[0] for p in pairs}
    assert not heads & excl.companies
    assert {p.source for p in pairs} == {"company_patent", "applicant_patent", "company_name"}


def test_scope_items_split_and_drop_commercial_words():
    items = scope_items("经营范围：锂电池正极材料的研发、生产；销售；货物进出口（依法须经批准的项目，经相关部门批准后方可开展经营活动）")
    assert "锂电池正极材料的研发" in items
    assert "销售" not in items and "货物进出口" not in items
