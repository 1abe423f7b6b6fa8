"""The learned re-ranker over a judged pool: features per system, model chosen on dev, a test run written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.lab.evaluate import read_run
from matcher.lab.pool_fusion import learned_fusion, pool_features, read_trec


def _write_folder(root, queries: int = 40, docs: int = 12, seed: int = 0):
    """A judged folder where system `good` ranks the related documents first and `noise` ranks at random."""
    rng = np.random.default_rng(seed)
    pool, qrels, runs = [], [], {"good": [], "noise": []}
    for q in range(queries):
        qid = f"Q{q:03d}"
        related = set(rng.choice(docs, size=2, replace=False))
        ids = [f"d{q}-{d}" for d in range(docs)]
        good = sorted(range(docs), key=lambda d: (d not in related, rng.random()))
        noise = list(rng.permutation(docs))
        for name, order in (("good", good), ("noise", noise)):
            runs[name] += [f"{qid} Q0 {ids[d]} {r} {1.0 / r:.4f} {name}" for r, d in enumerate(order, 1)]
        for d in range(docs):
            pool.append({"pair_id": f"{qid}~{ids[d]}", "query_id": qid, "doc_id": ids[d]})
            qrels.append({"query-id": qid, "corpus-id": ids[d], "score": int(d in related), "split": "dev" if q % 2 else "test"})
    (root / "runs").mkdir()
    (root / "qrels").mkdir()
    pd.DataFrame(pool).to_csv(root / "pool.tsv", sep="\t", index=False)
    for name, lines in runs.items():
        (root / "runs" / f"{name}.trec").write_text("\n".join(lines) + "\n")
    frame = pd.DataFrame(qrels)
    for split in ("dev", "test"):
        frame[frame["split"] == split].drop(columns="split").to_csv(root / "qrels" / f"{split}.tsv", sep="\t", index=False)


def test_features_mark_absent_pairs(tmp_path):
    _write_folder(tmp_path, queries=2, docs=3)
    run = read_trec(tmp_path / "runs" / "good.trec").iloc[:-1]  # the last pair unranked by this system
    pool = pd.read_csv(tmp_path / "pool.tsv", sep="\t", dtype=str)
    features, names = pool_features(pool, {"good": run})
    assert names == ["good:inv_rank", "good:z", "good:ranked", "systems"]
    absent = features["good:ranked"] == 0
    assert absent.sum() == 1
    assert features.loc[absent, "good:inv_rank"].item() == 0.0
    assert features.loc[absent, "good:z"].item() == -3.0


def test_learned_fusion_follows_the_informative_system(tmp_path):
    _write_folder(tmp_path)
    report = learned_fusion(tmp_path, tmp_path / "learned.trec", ["good", "noise"])
    assert report["test_pair_auc"] > 0.95
    assert report["chosen"] in report["dev_pair_auc_oof"]
    run = read_run(tmp_path / "learned.trec")
    qrels = pd.read_csv(tmp_path / "qrels" / "test.tsv", sep="\t")
    assert set(run) == set(qrels["query-id"])
    related = {(q, d) for q, d, g in qrels.itertuples(index=False) if g}
    assert all({(q, d) for d in docs[:2]} <= related for q, docs in run.items())
