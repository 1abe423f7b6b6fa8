"""Calibrate the match confidence on the judged demand -> patent benchmark: pairs, fit on dev, measure on test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from matcher.rank.confidence import (CORE, FEATURES, ConfidenceModel, DirectionModel, choose_threshold, fit_direction,
                                     precision_retention)

BANDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0001)
"""Reliability-table band edges (fine at the bottom: few pairs are related)."""

DIRECTIONS = {"text->patent": False, "enterprise->patent": True}
"""The directions calibrated, and whether the demand is asked as its stored record."""


def collect_pairs(matcher, demands: pd.DataFrame, grades: Mapping[tuple[str, str], int], k: int = 10) -> pd.DataFrame:
    """Rank the patents for every demand (as pasted text and as its stored record) with the engine as configured and
    build one row per top-k pair: its features, grade and label.

    Args:
        matcher: a `matcher.engine.Matcher` holding the patents and the demands (enterprise records); its own
            confidence model, if any, is ignored.
        demands: the demand records (id, name, text).
        grades: (demand id, patent id) -> judged grade.
        k: the depth.

    Returns:
        Columns direction, query_id, doc_id, rank, grade (-1 when unjudged), label (grade >= 1) and FEATURES.
    """
    from matcher.engine import Query
    from matcher.lab.judged import demand_text
    from matcher.schema import Kind

    saved, matcher.confidence = matcher.confidence, None
    rows = []
    try:
        ids = demands["id"].astype(str).tolist()
        texts = [demand_text(r) for r in demands.to_dict("records")]
        for direction, as_record in DIRECTIONS.items():
            queries = [Query(t, kind=Kind.ENTERPRISE, id=i) if as_record else Query(t) for i, t in zip(ids, texts)]
            results = matcher.search(queries, Kind.PATENT, k=k, explain=False)
            for qid, res, x in zip(ids, results, matcher.pair_features(results)):
                for m, feats in zip(res.matches, x):
                    grade = grades.get((qid, m.target_id), -1)
                    rows.append({"direction": direction, "query_id": qid, "doc_id": m.target_id, "rank": m.rank,
                                 "grade": grade, "label": int(grade >= 1), **dict(zip(FEATURES, feats.tolist()))})
    finally:
        matcher.confidence = saved
    return pd.DataFrame(rows)


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, s)), 4) if len(set(np.asarray(y).tolist())) == 2 else None


def _grouped_oof(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, **kwargs) -> np.ndarray:
    """Out-of-fold confidences, folds by query (seeded)."""
    uniq = np.unique(groups)
    fold = dict(zip(uniq, np.random.default_rng(0).permutation(len(uniq)) % folds))
    f = np.array([fold[g] for g in groups])
    out = np.zeros(len(y))
    for i in range(folds):
        tr = f != i
        if len(set(y[tr].tolist())) < 2:
            out[~tr] = y[tr].mean()
            continue
        out[~tr] = fit_direction(x[tr], y[tr], **kwargs).predict(x[~tr])
    return out


def choose_method(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> tuple[dict, dict]:
    """Choose on dev between logistic and logistic + isotonic, all features or `CORE`, and the regularisation, by
    the out-of-fold pair ROC AUC and query-level (verdict) ROC AUC averaged (Brier breaks ties; with few related
    pairs every candidate's Brier is close to the base rate's).

    Returns:
        (the chosen fit settings, every candidate's out-of-fold Brier, pair AUC and verdict AUC).
    """
    scores = {}
    for features in (None, CORE):
        for c in (0.01, 0.1, 1.0):
            for iso in (False, True):
                p = _grouped_oof(x, y, groups, folds, isotonic=iso, c=c, features=features)
                per_query = pd.DataFrame({"g": groups, "p": p, "y": y}).groupby("g").max()
                name = f"{'isotonic' if iso else 'logistic'} C={c} {'core' if features else 'all'} features"
                scores[name] = {"brier": round(float(np.mean((p - y) ** 2)), 5), "auc": _auc(y, p),
                                "verdict_auc": _auc(per_query["y"].to_numpy(), per_query["p"].to_numpy()),
                                "settings": {"isotonic": iso, "c": c, "features": features}}
    best = max(scores, key=lambda k: ((scores[k]["auc"] or 0) + (scores[k]["verdict_auc"] or 0), -scores[k]["brier"]))
    return scores[best]["settings"], scores


def strong_threshold(conf: np.ndarray, y: np.ndarray, min_precision: float = 0.5, min_pairs: int = 3) -> float:
    """The lowest cut whose pairs at or above it are at least `min_precision` related (at least `min_pairs` of
    them): a list reaching it gets 有合适专利. 1.01 (never) when no cut does."""
    order = np.argsort(-conf)
    hits = np.cumsum(y[order])
    for n in range(len(order), min_pairs - 1, -1):
        if hits[n - 1] / n >= min_precision:
            return float(conf[order[n - 1]])
    return 1.01


def reliability(conf: np.ndarray, y: np.ndarray, bands: Sequence[float] = BANDS) -> list[dict]:
    """Confidence band -> pairs, mean confidence and share judged related."""
    out = []
    for lo, hi in zip(bands[:-1], bands[1:]):
        sel = (conf >= lo) & (conf < hi)
        out.append({"band": f"{lo:.2f}-{min(hi, 1.0):.2f}", "pairs": int(sel.sum()),
                    "mean_confidence": round(float(conf[sel].mean()), 4) if sel.any() else None,
                    "share_related": round(float(y[sel].mean()), 4) if sel.any() else None})
    return out


def evaluate(model: DirectionModel, pairs: pd.DataFrame) -> dict:
    """The measures of one direction's model on a split's pairs.

    Returns:
        pairs, related, ROC AUC and Brier of the pair confidence (and of the fused score's AUC for reference),
        the reliability table, the query-level ROC AUC of the top confidence (and of the top-1 fused score) for
        "anything related in the top 10?", precision / retention / shown at the threshold, the verdict counts.
    """
    x = pairs[list(FEATURES)].to_numpy(dtype=np.float64)
    y = pairs["label"].to_numpy()
    conf = model.predict(x)
    prec, ret, shown = precision_retention(conf, y, model.threshold)
    frame = pairs.assign(conf=conf)
    per_query = frame.groupby("query_id").agg(top=("conf", "max"), any=("label", "max"), top1=("score", "max"))
    from matcher.rank.confidence import verdict

    verdicts = frame.groupby("query_id")["conf"].apply(lambda c: verdict(c.tolist(), model.threshold, model.strong))
    return {
        "pairs": int(len(y)), "related": int(y.sum()), "queries": int(len(per_query)),
        "answerable_queries": int(per_query["any"].sum()),
        "pair_auc": _auc(y, conf), "pair_auc_fused_score": _auc(y, x[:, 0]),
        "brier": round(float(np.mean((conf - y) ** 2)), 5), "brier_base_rate": round(float(np.mean((y.mean() - y) ** 2)), 5),
        "verdict_auc": _auc(per_query["any"].to_numpy(), per_query["top"].to_numpy()),
        "verdict_auc_top1_score": _auc(per_query["any"].to_numpy(), per_query["top1"].to_numpy()),
        "threshold": round(model.threshold, 4), "strong": round(model.strong, 4),
        "precision": round(prec, 4), "retention": round(ret, 4), "shown": shown,
        "verdicts": verdicts.value_counts().to_dict(),
        "reliability": reliability(conf, y),
    }


def calibrate(pairs: pd.DataFrame, dev: set[str], test: set[str], card: Mapping | None = None,
              min_retention: float = 0.8) -> tuple[ConfidenceModel, dict]:
    """Fit each direction on the dev demands' pairs (method and regularisation by out-of-fold Brier, thresholds on
    dev) and measure it on the test demands' pairs.

    Args:
        pairs: `collect_pairs` rows.
        dev: dev demand ids.
        test: test demand ids.
        card: more of the training card (data, encoder).
        min_retention: the share of dev's related pairs the threshold keeps.

    Returns:
        (the model, the report: per direction the chosen method, candidates, dev and test measures).
    """
    model = ConfidenceModel(card=dict(card or {}))
    report: dict = {}
    for direction in DIRECTIONS:
        d = pairs[(pairs["direction"] == direction) & pairs["query_id"].isin(dev)]
        t = pairs[(pairs["direction"] == direction) & pairs["query_id"].isin(test)]
        if d.empty or d["label"].nunique() < 2:
            continue
        x, y = d[list(FEATURES)].to_numpy(dtype=np.float64), d["label"].to_numpy()
        settings, candidates = choose_method(x, y, d["query_id"].to_numpy())
        oof = _grouped_oof(x, y, d["query_id"].to_numpy(), 5, **settings)
        m = model.fit(direction, x, y, **settings)
        m.threshold = choose_threshold(oof, y, min_retention)  # out-of-fold: the cut a new demand meets
        m.strong = strong_threshold(oof, y)
        report[direction] = {"method": ("isotonic" if settings["isotonic"] else "logistic") + f" C={settings['c']} "
                                       + ("core" if settings["features"] else "all") + " features",
                             "candidates": candidates, "dev": evaluate(m, d), "test": evaluate(m, t) if len(t) else None}
    model.card["metrics"] = {dr: {k: v for k, v in r["test"].items() if k != "reliability"}
                             for dr, r in report.items() if r["test"]}
    return model, report
