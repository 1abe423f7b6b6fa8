"""Train and measure the patent-activity model on the shared research data (`matcher lab train-activity`).

Labels (`shared_labels`): the 20,231 registered companies; positive are the dev benchmarks' companies only. Every
other registered company that filed one of the shared patents is a possible answer of a held-out benchmark and is
left out of training altogether (the same rule as the encoder's pairs, `matcher.lab.folds.training_exclusions`);
with `holdout_fold=k` the dev companies of fold k are left out too, and the model is scored on them
(`cross_validate_activity`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from matcher.config import Direction, FusionConfig, MatcherConfig
from matcher.errors import MatcherError
from matcher.index.atomic import atomic_write_text
from matcher.lab.folds import company_fold, dev_companies, fold_query_ids, training_exclusions
from matcher.lab.held_out import other_filers_p2c
from matcher.rank.activity import ActivityModel
from matcher.text.normalize import company_key
from matcher.training.activity import ActivityLabels, fit_activity

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)
"""The "activity" fusion weights scored by `cross_validate_activity` (on top of the shipped patent -> enterprise fusion)."""


def _registry(shared: Path) -> pd.DataFrame:
    """The registered companies' names, scopes and registered capital (companies_20k.csv), empty cells as ""."""
    return pd.read_csv(shared / "data" / "registry" / "companies_20k.csv", dtype=str,
                       usecols=["企业名称", "经营范围", "注册资金"]).fillna("")


def shared_labels(shared_dir: str | Path, *, holdout_fold: int | None = None, folds: int = 2) -> ActivityLabels:
    """Labels from the shared registry: dev benchmark companies positive, every other filer left out.

    Args:
        shared_dir: the folder with data/ and benchmarks/.
        holdout_fold: also leave out the dev companies of this fold (they are then in `held_out["dev_fold"]`).
        folds: number of folds.
    """
    shared = Path(shared_dir)
    registry = _registry(shared)
    keys = registry["企业名称"].map(company_key)
    dev = dev_companies(shared)
    excluded = training_exclusions(shared, holdout_fold=holdout_fold, folds=folds).companies
    keep = ~keys.isin(excluded)
    held_out = {"other_filers": excluded - dev}
    if holdout_fold is not None:
        held_out["dev_fold"] = {c for c in dev if company_fold(c, folds) == holdout_fold}
    part = registry[keep]
    fold_note = f", dev-company fold {holdout_fold} of {folds} held out" if holdout_fold is not None else ""
    return ActivityLabels(part["企业名称"].tolist(), part["经营范围"].tolist(), keys[keep].isin(dev).to_numpy(),
                          f"{shared}/data/registry/companies_20k.csv, positives = the dev benchmarks' companies{fold_note}",
                          held_out, part["注册资金"].tolist())


def held_out_auc(model: ActivityModel, shared_dir: str | Path, held_out: dict[str, set[str]]) -> dict[str, float]:
    """ROC AUC of the model for each held-out group of filers against the registered companies that filed nothing."""
    registry = _registry(Path(shared_dir))
    keys = registry["企业名称"].map(company_key)
    dev = dev_companies(Path(shared_dir))
    filers = dev.union(*held_out.values())
    scores = model.log_odds(registry["企业名称"].tolist(), registry["经营范围"].tolist(), registry["注册资金"].tolist())
    out = {}
    for group, names in held_out.items():
        mask = keys.isin(names).to_numpy() | ~keys.isin(filers).to_numpy()
        y = keys[mask].isin(names).to_numpy()
        if y.any() and not y.all():
            out[group] = round(float(roc_auc_score(y, scores[mask])), 4)
    return out

def train_activity(out: str | Path, labels: ActivityLabels, *, c: float = 0.3, min_df: int = 5, min_positives: int = 10,
                   shared_dir: str | Path | None = None) -> ActivityModel:
    """Fit the model, measure it (its cross-fitted AUC; with the shared data also on the held-out companies) and
    save it with its card.

    Args:
        out: the model directory.
        labels: e.g. `shared_labels`.
        c, min_df, min_positives: see `matcher.training.activity.fit_activity`.
        shared_dir: the shared folder; when given, the card also records `held_out_auc` on the labels' held-out
            groups.

    Raises:
        MatcherError: fewer than `min_positives` patent-active enterprises, or none that is not.
    """
    model = fit_activity(labels, c=c, min_df=min_df, min_positives=min_positives)
    if shared_dir is not None and labels.held_out:
        model.card["held_out_auc"] = held_out_auc(model, shared_dir, labels.held_out)
    model.save(out)
    return model


def cross_validate_activity(
    out: str | Path, shared_dir: str | Path, *, c: float = 0.3, min_df: int = 5, folds: int = 2,
    weights: Sequence[float] = WEIGHTS, cache_dir: str | Path | None = None, pool: int = 200,
    base: FusionConfig | None = None, encoder: str | None = None, final_model: str | Path | None = None,
    final_encoder: str | None = None, bench: str | Path | None = None, log: Callable[[str], None] = print,
) -> dict:
    """Train one model per dev-company fold and score p2c-dev's queries of that fold with it.

    Every fusion weight of "activity" (on top of `base`, the shipped patent -> enterprise fusion) is scored on the
    same candidate pools; the numbers are pooled over the folds, query-weighted, and written to
    out/cross_validation.json.

    Args:
        encoder: the engine's encoder spec (default: the configured one); "{fold}" stands for the fold number, so
            that an encoder cross-validated on the same folds is scored with its own fold's model, e.g.
            "use-m3*2+models/cv/fold-{fold}".
        final_model: a model trained on every dev company; when given, it is also scored (with `final_encoder`) on
            the patents of the registered filers that no dev benchmark judges (p2c-other, `matcher.lab.held_out`).
        bench: the p2c folder scored (default: shared_dir/benchmarks/p2c-dev; a subset of it, e.g. a notebook's CI
            cut, works the same).

    Returns:
        {"weights": {w: metrics}, "folds": [...], "other_filers": {...} (with final_model)}
    """
    from matcher.lab.evaluate import METRICS, registry_attributes, write_subset

    out, shared = Path(out), Path(shared_dir)
    base = base or MatcherConfig().fusion_for(Direction.PATENT_TO_ENTERPRISE)
    bench = Path(bench) if bench is not None else shared / "benchmarks" / "p2c-dev"
    attributes = registry_attributes(shared)  # the registered capital the model reads, as `matcher lab evaluate` does
    totals = {w: np.zeros(len(METRICS)) for w in weights}
    parts, n_total = [], 0
    for fold in range(folds):
        labels = shared_labels(shared, holdout_fold=fold, folds=folds)
        model_dir = out / f"fold-{fold}"
        model = train_activity(model_dir, labels, c=c, min_df=min_df, shared_dir=shared)
        queries = fold_query_ids(bench, fold, folds) or set()
        if not queries:
            continue
        folder = write_subset(bench, queries, model_dir / "eval" / "benchmarks")
        started = time.perf_counter()
        table, n = _weight_table(folder, model_dir, encoder and encoder.replace("{fold}", str(fold)), weights, base,
                                 cache_dir, pool, attributes)
        for w, row in zip(weights, table):
            totals[w] += row * n
        n_total += n
        parts.append({"fold": fold, "queries": n, "positives": labels.positives,
                      "train_seconds": model.card["train_seconds"], "held_out_auc": model.card.get("held_out_auc", {}),
                      "seconds": round(time.perf_counter() - started, 1)})
        log(f"fold {fold}: {n} p2c queries, held-out AUC {model.card.get('held_out_auc')}")
    if n_total == 0:
        raise MatcherError(f"no p2c-dev query in any fold under {bench}")
    result = {"benchmark": str(bench), "queries": n_total, "encoder": encoder or MatcherConfig().encoder,
              "base": base.model_dump(mode="json"),
              "weights": {str(w): dict(zip(METRICS, (totals[w] / n_total).round(4).tolist())) for w in weights},
              "folds": parts}
    if final_model is not None:  # the model trained on every dev company, on the companies no model saw
        folder = other_filers_p2c(shared, out / "eval" / "benchmarks")
        table, n = _weight_table(folder, Path(final_model), final_encoder, weights, base, cache_dir, pool, attributes)
        result["other_filers"] = {"queries": n, "encoder": final_encoder or MatcherConfig().encoder,
                                  "weights": {str(w): dict(zip(METRICS, row.round(4).tolist())) for w, row in zip(weights, table)}}
        log(f"other filers' patents: {n} p2c queries")
    atomic_write_text(out / "cross_validation.json", json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _weight_table(folder: Path, model_dir: Path, encoder: str | None, weights: Sequence[float], base: FusionConfig,
                  cache_dir: str | Path | None, pool: int, attributes: pd.DataFrame | None) -> tuple[np.ndarray, int]:
    """(len(weights), len(METRICS)) mean metrics of a p2c folder with an activity model, one row per weight
    (every weight re-fuses the same candidate pools), and the number of queries."""
    from matcher.engine import Matcher
    from matcher.lab.tuning import SCORERS, collect_pools

    extra: dict = {"cache_dir": Path(cache_dir)} if cache_dir else {}
    if encoder:
        extra["encoder"] = encoder
    pools = collect_pools(folder, Matcher(MatcherConfig(activity_model=model_dir, **extra)), pool=pool,
                          scorers=(*SCORERS, "activity"), enterprise_attributes=attributes)
    rows = [pools.query_metrics(base.model_copy(update={"weights": {**base.weights, "activity": w}})).mean(axis=0)
            for w in weights]
    return np.array(rows), len(pools.qids)
