"""A learned re-ranker over the judged pool: the pooled systems' ranks and scores, fitted on dev, measured on test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from matcher.lab.evaluate import write_run

#: the models tried, by name: each a factory of an unfitted scikit-learn classifier
MODELS = {
    "logistic-C0.01": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000, class_weight="balanced")),
    "logistic-C0.1": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")),
    "logistic-C1": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")),
    "trees-depth2": lambda: HistGradientBoostingClassifier(max_depth=2, learning_rate=0.05, max_iter=200,
                                                           class_weight="balanced", random_state=0),
}


def read_trec(path: str | Path) -> pd.DataFrame:
    """A TREC run as a frame of query_id, doc_id, rank, score."""
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=["query_id", "q0", "doc_id", "rank", "score", "tag"],
                        dtype={"query_id": str, "doc_id": str})
    return frame[["query_id", "doc_id", "rank", "score"]]


def pool_features(pool: pd.DataFrame, runs: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[str]]:
    """Per pooled pair and system: 1 / rank (0 when the system did not rank it), the score standardised within the
    system's list for the query (-3 when absent) and whether the system ranked it; and how many systems did.

    Args:
        pool: the pooled pairs (query_id, doc_id).
        runs: system name -> its run (`read_trec`).

    Returns:
        The pairs with the feature columns, and the feature names.
    """
    frame = pool[["query_id", "doc_id"]].astype(str).copy()
    names: list[str] = []
    for system, run in runs.items():
        part = run.rename(columns={"rank": "r", "score": "s"})
        frame = frame.merge(part, on=["query_id", "doc_id"], how="left")
        by_query = frame.groupby("query_id")["s"]
        frame[f"{system}:inv_rank"] = 1.0 / frame["r"].fillna(np.inf)
        frame[f"{system}:z"] = ((frame["s"] - by_query.transform("mean")) / (by_query.transform("std") + 1e-9)).fillna(-3.0)
        frame[f"{system}:ranked"] = frame["r"].notna().astype(float)
        frame = frame.drop(columns=["r", "s"])
        names += [f"{system}:inv_rank", f"{system}:z", f"{system}:ranked"]
    frame["systems"] = frame[[f"{s}:ranked" for s in runs]].sum(axis=1)
    return frame, [*names, "systems"]


def _cv_auc(factory, x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> float:
    """Out-of-fold pair ROC AUC, folds by query."""
    oof = np.zeros(len(y))
    for fit_rows, held in GroupKFold(n_splits=folds).split(x, y, groups):
        oof[held] = factory().fit(x[fit_rows], y[fit_rows]).predict_proba(x[held])[:, 1]
    return float(roc_auc_score(y, oof))


def fit_and_rank(features: pd.DataFrame, names: Sequence[str], grades: Mapping[tuple[str, str], int],
                 dev: set[str], test: set[str]) -> tuple[dict, dict[str, list[tuple[str, float]]]]:
    """Choose a model on dev (out-of-fold pair AUC, folds by demand), fit it on all of dev, score test's pooled pairs.

    Args:
        features: `pool_features` rows.
        names: the feature columns.
        grades: (query id, doc id) -> judged grade (0, 1, 2).
        dev, test: the demands of each split.

    Returns:
        A report (the dev AUC of each model, the chosen one, test pair AUC and verdict AUC) and the test run
        (query id -> [(doc id, probability)], best first).
    """
    frame = features.assign(grade=[grades.get((q, d), -1) for q, d in zip(features["query_id"], features["doc_id"])])
    frame = frame[frame["grade"] >= 0]
    frame["related"] = (frame["grade"] >= 1).astype(int)
    fit_rows, test_rows = frame[frame["query_id"].isin(dev)], frame[frame["query_id"].isin(test)]
    x_dev, y_dev = fit_rows[list(names)].to_numpy(), fit_rows["related"].to_numpy()
    dev_auc = {name: round(_cv_auc(make, x_dev, y_dev, fit_rows["query_id"].to_numpy()), 3) for name, make in MODELS.items()}
    chosen = max(dev_auc, key=dev_auc.get)
    model = MODELS[chosen]().fit(x_dev, y_dev)
    test_rows = test_rows.assign(p=model.predict_proba(test_rows[list(names)].to_numpy())[:, 1])
    run: dict[str, list[tuple[str, float]]] = {}
    answered, top = [], []
    for qid, group in test_rows.groupby("query_id"):
        group = group.sort_values("p", ascending=False, kind="stable")
        run[qid] = list(zip(group["doc_id"], group["p"].astype(float)))
        answered.append(int(group["related"].head(10).max()))
        top.append(float(group["p"].iloc[0]))
    report = {"dev_pair_auc_oof": dev_auc, "chosen": chosen,
              "test_pair_auc": round(float(roc_auc_score(test_rows["related"], test_rows["p"])), 3),
              "test_verdict_auc": round(float(roc_auc_score(answered, top)), 3) if 0 < sum(answered) < len(answered) else None,
              "test_pairs": int(len(test_rows)), "test_related_pairs": int(test_rows["related"].sum())}
    return report, run


def learned_fusion(folder: str | Path, out_run: str | Path, systems: Sequence[str]) -> dict:
    """Fit the learned re-ranker on a built judged folder and write its test-split run.

    Args:
        folder: the built judged folder (pool.tsv, runs/, qrels/).
        out_run: the TREC run to write (test demands, every pooled candidate re-ranked).
        systems: the pooled runs to learn from (names of runs/<name>.trec).

    Returns:
        The report of `fit_and_rank`.
    """
    folder = Path(folder)
    pool = pd.read_csv(folder / "pool.tsv", sep="\t", dtype=str)
    runs = {s: read_trec(folder / "runs" / f"{s}.trec") for s in systems}
    features, names = pool_features(pool, runs)
    qrels = {split: pd.read_csv(folder / "qrels" / f"{split}.tsv", sep="\t", dtype={"query-id": str, "corpus-id": str})
             for split in ("dev", "test")}
    grades = {(q, d): int(g) for qr in qrels.values() for q, d, g in qr.itertuples(index=False)}
    report, run = fit_and_rank(features, names, grades, set(qrels["dev"]["query-id"]), set(qrels["test"]["query-id"]))
    write_run(out_run, run, tag="learned-fusion")
    return report
