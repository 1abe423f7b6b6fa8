"""Encoder training on the shared research data: its pairs, the dev-benchmark evaluation with fusion re-tuned per
benchmark, and cross-validation over dev-company folds (`matcher lab train`).

The pair groups of the shared data (`shared_pairs`; each a group so that batches are drawn from one at a time):

- ``patent_title``: patent title <-> abstract (bdci_patents).
- ``applicant_patent``: applicant company name <-> patent, for company applicants (the name carries the
  trade words, e.g. 新材料 / 电子科技, that bridge business scopes and patent language).
- ``company_patent``: registered company profile (name + 经营范围) <-> a patent it filed, through the
  exact applicant <-> 企业名称 link.
- ``offer`` / ``demand``: Zhibei offer or demand name <-> text.
- ``offer_class``: the GB/T 4754 classification and industry label of an offer <-> the offer (trade words <->
  technology words).
- ``csl``: CSL paper title <-> abstract and keywords <-> abstract.
- ``company_name`` / ``scope_item``: registry name <-> 经营范围, and one scope item <-> the whole profile.

KPPatent is never used: its abstracts and keyphrases are the kw2p-dev benchmark itself. Which company <-> patent
labels may be trained on is `matcher.lab.folds`.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from matcher.index.atomic import atomic_write_text
from matcher.lab.folds import (DEV_BENCHMARKS, BenchmarkExclusions, fold_query_ids, is_company_benchmark, read_jsonl,
                               training_exclusions)
from matcher.text.normalize import company_key
from matcher.training.pairs import Pair, add_pair, company_profile, corpus_pairs, dense_text, patent_text, summarize
from matcher.training.train import TrainConfig, TrainResult, write_model_card
from matcher.training.train import train_encoder as train_on_pairs

_LICENCE = ["", "Registry data (CC BY-NC-SA 4.0) is used for training only inside this evaluation setting; a "
            "model trained on it is not for release."]


# ---- the shared data's pairs ----
def _read_jsonl_frame(path: Path) -> pd.DataFrame:
    """A JSON Lines file as a frame, missing values as empty strings."""
    return pd.DataFrame(read_jsonl(path)).fillna("")


def shared_pairs(
    shared_dir: str | Path,
    *,
    exclusions: BenchmarkExclusions | None = None,
    holdout_fold: int | None = None,
    folds: int = 2,
    seed: int = 0,
    registry_sample: int = 40_000,
    items_per_company: int = 2,
    sources: Sequence[str] | None = None,
) -> list[Pair]:
    """Build every training pair group from the shared data folder.

    Args:
        shared_dir: the folder with data/ and benchmarks/.
        exclusions: companies / patents to leave out; None: `training_exclusions(shared_dir, holdout_fold,
            folds)`.
        holdout_fold: dev-company fold left out (see `training_exclusions`).
        folds: number of folds.
        seed: sampling seed (registry sample, scope items).
        registry_sample: companies taken from tech_companies_200k.parquet (0: none) in addition to
            companies_20k.csv.
        items_per_company: scope items per registry company.
        sources: keep only these groups (None: all).

    Returns:
        The pairs, in a deterministic order.
    """
    shared = Path(shared_dir)
    data = shared / "data"
    if exclusions is None:
        exclusions = training_exclusions(shared, holdout_fold=holdout_fold, folds=folds)
    bad_companies = exclusions.companies
    rng = random.Random(seed)
    out: list[Pair] = []

    # registry: name -> scope (20k + a sample of the 200k)
    registry = pd.read_csv(data / "registry" / "companies_20k.csv", dtype=str).fillna("")
    scopes = dict(zip(registry["企业名称"].map(company_key), registry["经营范围"]))
    big_path = data / "registry" / "tech_companies_200k.parquet"
    if registry_sample and big_path.is_file():
        big = pd.read_parquet(big_path, columns=["企业名称", "经营范围"]).fillna("")
        big = big.sample(n=min(registry_sample, len(big)), random_state=seed)
        registry = pd.concat([registry[["企业名称", "经营范围"]], big], ignore_index=True)
    registry = registry.drop_duplicates("企业名称")
    out += corpus_pairs(
        enterprises=pd.DataFrame({"name": registry["企业名称"], "text": registry["经营范围"]}),
        seed=seed, items_per_company=items_per_company, exclude_companies=bad_companies,
    )

    # patents: title <-> abstract, applicant name <-> patent, registered profile <-> patent
    patents = pd.read_csv(data / "bdci_patents" / "patents.csv", dtype=str).fillna("")
    out += corpus_pairs(patents=patents, seed=seed)
    for row in patents.itertuples(index=False):
        applicant = row.applicant.strip()
        key = company_key(applicant)
        if row.applicant_type != "company" or key in bad_companies or row.id in exclusions.patent_ids:
            continue
        text = patent_text(row.title, row.abstract)
        add_pair(out, dense_text(applicant), text, "applicant_patent")
        if scopes.get(key, "").strip():
            add_pair(out, company_profile(applicant, scopes[key]), text, "company_patent")

    # zhibei offers and demands
    zhibei = data / "zhibei"
    if (zhibei / "offers.jsonl").is_file():
        offers = _read_jsonl_frame(zhibei / "offers.jsonl")
        for row in offers.itertuples(index=False):
            text = patent_text(row.name, row.context)
            add_pair(out, dense_text(row.name), dense_text(row.context), "offer")
            label = "。".join(
                part for part in (str(row.classification).replace("——", "、"), str(row.industry).replace("-", "、"))
                if part.strip()
            )
            add_pair(out, dense_text(label), text, "offer_class")
    if (zhibei / "demands.jsonl").is_file():
        demands = _read_jsonl_frame(zhibei / "demands.jsonl")
        for row in demands.itertuples(index=False):
            add_pair(out, dense_text(row.name), dense_text(row.context), "demand")

    # CSL papers
    csl_dir = data / "csl"
    for path in sorted(csl_dir.glob("csl_benchmark_*_joined.csv")):
        papers = pd.read_csv(path, dtype=str).fillna("")
        for row in papers.itertuples(index=False):
            abstract = dense_text(row.abstract)
            add_pair(out, dense_text(row.title), abstract, "csl")
            keywords = " ".join(k for k in row.keywords.split("_") if k.strip())
            add_pair(out, dense_text(keywords), abstract, "csl")
    tsv = csl_dir / "sswdxl_zh_csl_camera_readly_subset.tsv"
    if tsv.is_file():
        with tsv.open(encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    add_pair(out, dense_text(parts[0]), dense_text(parts[1]), "csl")

    if sources is not None:
        keep = set(sources)
        out = [p for p in out if p.source in keep]
    rng.shuffle(out)  # deterministic for a seed; the trainer groups by source anyway
    return out


def train_encoder(
    output_dir: str | Path,
    *,
    pairs: Sequence[Pair] | None = None,
    shared_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    evaluate: bool = False,
    benchmarks: Sequence[str | Path] | None = None,
    cache_dir: str | Path | None = None,
    source: str = "shared",
    log=print,
) -> TrainResult:
    """Train the static encoder (on the shared data by default), optionally score it on the dev benchmarks, and
    write the model with its card.

    Args:
        output_dir: where the model is written (created; existing model files are overwritten).
        pairs: training pairs; None builds them from `shared_dir` (with the dev benchmark companies
            excluded).
        shared_dir: the shared data folder (needed when `pairs` is None, and for the default benchmarks).
        config: training settings (defaults: `TrainConfig()`).
        evaluate: run the dev benchmarks afterwards (full engine, fusion re-tuned per benchmark) and put
            the numbers into the model card.
        benchmarks: BEIR folders to evaluate on; None: shared_dir/benchmarks/kw2p-dev, plus c2p-dev / p2c-dev
            cut to the held-out fold when `config.holdout_fold` is set.
        cache_dir: embedding cache for the evaluation (default: a folder inside output_dir's parent
            named .eval-cache).
        source: what `pairs` were built from, for the model card ("shared" when built from `shared_dir`).
        log: progress printer.

    Returns:
        The training result (also summarised in output_dir/README.md and training_config.json).

    Raises:
        ValueError: no pairs to train on.
    """
    config = config or TrainConfig()
    output_dir = Path(output_dir)
    if pairs is None:
        if shared_dir is None:
            raise ValueError("give either pairs or shared_dir")
        started = time.perf_counter()
        pairs = load_pairs_for(shared_dir, config)
        log(f"built {len(pairs)} pairs in {time.perf_counter() - started:.0f}s: {summarize(pairs)}")
    result = train_on_pairs(output_dir, pairs, config=config, source=source, log=log)
    if evaluate:
        if benchmarks is None:
            if shared_dir is None:
                raise ValueError("give benchmarks or shared_dir to evaluate")
            benchmarks = [Path(shared_dir) / "benchmarks" / name for name in DEV_BENCHMARKS]
            if config.holdout_fold is None:
                # every dev company's links were training pairs: c2p / p2c would be in-sample (use --cross-validate)
                benchmarks = [b for b in benchmarks if not is_company_benchmark(b)]
        if config.holdout_fold is not None:
            benchmarks = holdout_benchmarks(benchmarks, config, output_dir / "eval" / "benchmarks")
        cache = Path(cache_dir) if cache_dir else output_dir.parent / ".eval-cache"
        result.metrics = evaluate_encoder(output_dir, benchmarks, cache_dir=cache, log=log)
    write_lab_model_card(result)
    return result


def write_lab_model_card(result: TrainResult) -> Path:
    """The model card of `matcher.training.train.write_model_card`, with the shared data's note and licence and the
    dev benchmark results (also written to output_dir/eval/metrics.json).

    Args:
        result: the training result.

    Returns:
        The card's path.
    """
    shared = result.source == "shared"
    appendix: list[str] = []
    if result.metrics:
        appendix += [
            "## Dev benchmarks (full engine)",
            "",
            "Fusion re-tuned per benchmark with `matcher.lab.tuning` (one setting per benchmark).",
            "",
            "| benchmark | dense nDCG@10 | fused nDCG@10 | fused Recall@100 | fused MRR@10 | fusion |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in result.metrics.items():
            fusion = m["fusion"]
            appendix.append(
                f"| {name} | {m['dense']['ndcg@10']:.4f} | {m['best']['ndcg@10']:.4f} | "
                f"{m['best']['recall@100']:.4f} | {m['best']['mrr@10']:.4f} | "
                f"{fusion['method']} " + " / ".join(f"{k} {v:g}" for k, v in fusion.items() if k not in ("method", "rrf_k"))
                + (f" (k={fusion['rrf_k']})" if fusion["method"] == "rrf" else "") + " |"
            )
        appendix.append("")
        # in a sub-folder: files there are not part of the model id hash
        (result.output_dir / "eval").mkdir(exist_ok=True)
        (result.output_dir / "eval" / "metrics.json").write_text(json.dumps(result.metrics, indent=2), encoding="utf-8")
    return write_model_card(result, data_note=_shared_data_note(result.config) if shared else None,
                            notes=_LICENCE if shared else (), appendix=appendix)


_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def benchmark_grid(folder: str | Path, model_dir: str | Path, *, cache_dir: str | Path, pool: int = 200):
    """Score every fusion setting of `matcher.lab.tuning.default_settings()` for one encoder on one benchmark.

    Args:
        folder: a BEIR folder named <query>2<corpus>-<split>.
        model_dir: the encoder spec ("use-m3", a model directory, or an ensemble of them).
        cache_dir: embedding cache.
        pool: candidates per retriever.

    Returns:
        (the grid table, one row per setting in a fixed order; {"dense", "bm25": metrics of one scorer alone},
        number of queries).
    """
    from matcher.config import FusionConfig, MatcherConfig
    from matcher.engine import Matcher
    from matcher.lab.tuning import collect_pools, default_settings, grid

    matcher = Matcher(MatcherConfig(encoder=str(model_dir), cache_dir=Path(cache_dir), pool=pool))
    pools = collect_pools(folder, matcher, pool=pool)
    single = {
        name: dict(pools.evaluate(FusionConfig(method="weighted", weights={"dense": float(name == "dense"),
                                                                              "bm25": float(name == "bm25")})))
        for name in ("dense", "bm25")
    }
    return grid(pools, default_settings()), single, len(pools.qids)


def summarize_grid(table, single: Mapping[str, Mapping[str, float]]) -> dict:
    """The best setting of a grid table (nDCG@10, then Recall@100), and the best without the items scorer.

    Args:
        table: a `benchmark_grid` table (or a query-weighted mean of several).
        single: the one-scorer metrics from `benchmark_grid`.

    Returns:
        {"dense", "bm25", "best", "best_dense_bm25": metrics, "fusion", "fusion_dense_bm25": settings}.
    """
    from matcher.lab.tuning import SCORERS

    ranked = table.sort_values(["ndcg@10", "recall@100"], ascending=False, kind="stable")
    best = ranked.iloc[0]
    no_items = ranked[ranked["items"] == 0].iloc[0] if "items" in ranked else best
    return {
        "dense": {m: float(single["dense"][m]) for m in _METRICS},
        "bm25": {m: float(single["bm25"][m]) for m in _METRICS},
        "best": {m: float(best[m]) for m in _METRICS},
        "best_dense_bm25": {m: float(no_items[m]) for m in _METRICS},
        "fusion_dense_bm25": {"method": str(no_items["method"]), "dense": float(no_items["dense"]),
                              "bm25": float(no_items["bm25"]), "rrf_k": int(no_items["rrf_k"])},
        "fusion": {"method": str(best["method"]), **{name: float(best[name]) for name in SCORERS},
                   "rrf_k": int(best["rrf_k"])},
    }


def _metrics_text(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{m} {metrics[m]:.4f}" for m in _METRICS)


def _describe(name: str, summary: dict, seconds: float) -> str:
    from matcher.lab.tuning import SCORERS

    fusion, best = summary["fusion"], summary["best"]
    return (f"{name}: dense ndcg@10 {summary['dense']['ndcg@10']:.4f}, fused {best['ndcg@10']:.4f} ({fusion['method']} "
            + " ".join(f"{n}={fusion[n]:g}" for n in SCORERS)
            + f") R@100 {best['recall@100']:.4f} MRR@10 {best['mrr@10']:.4f} ({seconds:.0f}s)")


def evaluate_encoder(
    model_dir: str | Path, benchmarks: Sequence[str | Path], *, cache_dir: str | Path, pool: int = 200, log=print
) -> dict[str, dict]:
    """Score an encoder with the full engine on BEIR benchmarks, re-tuning the fusion per benchmark.

    For each benchmark the candidate pools (the union of every scorer's top-`pool`: dense, BM25 and
    best-item) are collected once and every setting of `matcher.lab.tuning.default_settings()` (weighted
    z-score sums and RRF over a weight grid) is scored; the best nDCG@10 setting is kept (one setting per
    benchmark, never per query), next to dense alone.

    Args:
        model_dir: the encoder spec ("use-m3", a model directory, or an ensemble of them).
        benchmarks: BEIR folders named <query>2<corpus>-<split>.
        cache_dir: embedding cache.
        pool: candidates per retriever.
        log: progress printer.

    Returns:
        {benchmark name: `summarize_grid` result}.
    """
    out: dict[str, dict] = {}
    for folder in map(Path, benchmarks):
        started = time.perf_counter()
        table, single, _ = benchmark_grid(folder, model_dir, cache_dir=cache_dir, pool=pool)
        out[folder.name] = summarize_grid(table, single)
        log(_describe(folder.name, out[folder.name], time.perf_counter() - started))
    return out


def _shared_data_note(cfg: TrainConfig) -> list[str]:
    """The model card's paragraph on the shared-data pairs and the benchmark companies."""
    return [
        "Contrastive (anchor, positive) pairs; each batch comes from one group. KPPatent (the kw2p-dev corpus) "
        "is never used. Company <-> patent links come only from the dev benchmarks' companies; every other "
        "registered company that filed a shared patent (a possible held-out answer) is left out of every "
        "company-derived group"
        + (f", and so are the dev companies of fold {cfg.holdout_fold} of {cfg.folds}: c2p / p2c are scored on that "
           "fold's queries only." if cfg.holdout_fold is not None else
           ". Dev c2p / p2c numbers of this model would be in-sample, so `--evaluate` scores kw2p only; "
           "`--cross-validate` measures c2p / p2c on companies held out of training.")
    ]


def load_pairs_for(shared_dir: str | Path, config: TrainConfig) -> list[Pair]:
    """The shared-data pairs for a config (held-out companies excluded).

    Args:
        shared_dir: the shared folder.
        config: supplies seed, registry_sample, holdout_fold and folds.

    Returns:
        The pairs.
    """
    return shared_pairs(shared_dir, holdout_fold=config.holdout_fold, folds=config.folds, seed=config.seed,
                        registry_sample=config.registry_sample)


def holdout_benchmarks(benchmarks: Sequence[str | Path], config: TrainConfig, out_dir: Path) -> list[Path]:
    """The company benchmarks (c2p-*, p2c-*) cut to the queries of the held-out fold; others as they are.

    Args:
        benchmarks: BEIR folders.
        config: supplies holdout_fold and folds.
        out_dir: where the cut folders are written.

    Returns:
        The folders to evaluate on (a company benchmark with no query in the fold is left out).
    """
    from matcher.lab.evaluate import write_subset

    out: list[Path] = []
    for folder in map(Path, benchmarks):
        keep = fold_query_ids(folder, config.holdout_fold, config.folds)
        if keep is None:
            out.append(folder)
        elif keep:
            out.append(write_subset(folder, keep, out_dir))
    return out


def score_fold_engine(
    folder: str | Path, source: str | Path, config_file: str | Path, *, encoder: str, fold: int, cache_dir: str | Path,
    run_file: str | Path | None = None, shared_dir: str | Path | None = None,
) -> dict[str, float]:
    """Score one fold's cut of a company benchmark end to end with an engine configuration.

    Args:
        folder: the cut BEIR folder (the fold's queries).
        source: the benchmark it was cut from; the mirror beside it supplies the query side's stored records
            (`matcher.lab.evaluate.mirror_records`), as `matcher lab evaluate` does.
        config_file: the configuration JSON; its encoder is replaced by `encoder`, and "{fold}" in its
            activity_model stands for the fold number (an activity model cross-validated on the same folds).
        encoder: the fold's encoder spec.
        fold: the fold number.
        cache_dir: embedding cache.
        run_file: also write the ranking there (TREC run format, `matcher.lab.evaluate.write_run`).
        shared_dir: the shared folder whose registry fills the company profiles' attributes (the registered
            capital), as `matcher lab evaluate` does; None: the BEIR text only.

    Returns:
        The metrics of `matcher.lab.evaluate.score_run`.
    """
    from matcher.config import load_config
    from matcher.engine import Matcher
    from matcher.lab.evaluate import mirror_records, registry_attributes, run_benchmark

    cfg = load_config(config_file, encoder=encoder, cache_dir=Path(cache_dir))
    if cfg.activity_model is not None:
        cfg = cfg.model_copy(update={"activity_model": Path(str(cfg.activity_model).replace("{fold}", str(fold)))})
    attributes = registry_attributes(shared_dir) if shared_dir is not None else None
    return run_benchmark(folder, Matcher(cfg), query_records=mirror_records(source), run_file=run_file,
                         enterprise_attributes=attributes)


@dataclass
class _FoldScore:
    """One fold's model on one benchmark cut to that fold's queries."""

    fold: int
    queries: int
    seconds: float | None  # training time of the fold's model (None: reused, time unknown)
    table: object  # the `benchmark_grid` table
    single: dict
    engine: dict | None = None  # `score_fold_engine` metrics, when a configuration was given
    run_file: Path | None = None  # and its ranking (TREC run file)


def cross_validate(
    output_dir: str | Path, *, shared_dir: str | Path, config: TrainConfig | None = None,
    cache_dir: str | Path | None = None, pool: int = 200, eval_encoder: str = "{model}", reuse_models: bool = False,
    eval_config: str | Path | None = None, log=print,
) -> dict[str, dict]:
    """Train one model per dev-company fold and score each on the companies it never saw.

    Only the company benchmarks (c2p-dev, p2c-dev) are cut by fold. Every dev query is scored once, by the
    model that did not train on its company; each fusion setting's metrics are pooled over the folds
    (query-weighted mean) and one setting per benchmark is chosen on the pooled numbers, as for any other
    row of the comparison.

    Args:
        output_dir: models are written to output_dir/fold-K; the pooled numbers to
            output_dir/cross_validation.json.
        shared_dir: the shared data folder.
        config: training settings (holdout_fold is set per fold).
        cache_dir: embedding cache for the evaluation (default: output_dir/.eval-cache).
        pool: candidates per retriever.
        eval_encoder: the encoder spec scored, "{model}" standing for the fold's model directory and "{fold}"
            for the fold number; e.g. "use-m3+{model}*2" scores the ensemble of USE-m3 and the fold model
            (`matcher.encode.ensemble`), and "use-m3*3+{model}+models/cv-s1/fold-{fold}+models/cv-s2/fold-{fold}"
            adds the same fold's models of two other seeds (cross-validated with `--seed 1` / `--seed 2`).
        reuse_models: score a fold model already in output_dir/fold-K instead of retraining it when its
            training_config.json records the same settings (its training time then comes from the previous
            cross_validation.json, when there is one).
        eval_config: also score each fold's queries end to end with this engine configuration (a JSON file, e.g.
            config/ensemble.json; see `score_fold_engine`), pooled under "engine": every signal takes part, the
            reciprocal one included, with the configuration's own fusion instead of a re-tuned one.
        log: progress printer.

    Returns:
        {benchmark: `summarize_grid` result + "queries", "encoder" (eval_encoder), "engine" (with eval_config) and
        per-fold "folds" (queries, train seconds, engine metrics)}.

    Raises:
        ValueError: eval_encoder does not contain "{model}".
    """
    if "{model}" not in eval_encoder:
        raise ValueError(f"eval_encoder must contain '{{model}}' (the fold's model directory), got {eval_encoder!r}")
    config = config or TrainConfig()
    output_dir = Path(output_dir)
    cache = Path(cache_dir) if cache_dir else output_dir / ".eval-cache"
    benchmarks = [folder for folder in (Path(shared_dir) / "benchmarks" / name for name in DEV_BENCHMARKS)
                  if is_company_benchmark(folder)]
    parts: dict[str, list[_FoldScore]] = {}
    for fold in range(config.folds):
        fold_config = TrainConfig(**{**asdict(config), "holdout_fold": fold})
        model_dir = output_dir / f"fold-{fold}"
        if reuse_models and _trained_with(model_dir, fold_config):
            seconds = _previous_train_seconds(output_dir, fold)
            log(f"fold {fold}: reusing the model in {model_dir}")
        else:
            seconds = train_encoder(model_dir, shared_dir=shared_dir, config=fold_config, log=log).seconds
        for folder in holdout_benchmarks(benchmarks, fold_config, model_dir / "eval" / "benchmarks"):
            started = time.perf_counter()
            spec = eval_encoder.replace("{model}", str(model_dir)).replace("{fold}", str(fold))
            table, single, n = benchmark_grid(folder, spec, cache_dir=cache, pool=pool)
            log(_describe(f"fold {fold} {folder.name} ({n} queries)", summarize_grid(table, single),
                          time.perf_counter() - started))
            engine = run_file = None
            if eval_config is not None:
                started = time.perf_counter()
                run_file = model_dir / "eval" / "runs" / f"{folder.name}.trec"
                engine = score_fold_engine(folder, Path(shared_dir) / "benchmarks" / folder.name, eval_config,
                                           encoder=spec, fold=fold, cache_dir=cache, run_file=run_file,
                                           shared_dir=shared_dir)
                log(f"fold {fold} {folder.name}, engine with {eval_config}: {_metrics_text(engine)} "
                    f"({time.perf_counter() - started:.0f}s)")
            parts.setdefault(folder.name, []).append(_FoldScore(fold, n, seconds, table, single, engine, run_file))
            gc.collect()  # the first engine of a process is kept by a cycle (see pipelines/lab/cli.py evaluate): free it
    pooled: dict[str, dict] = {}
    for name, scores in parts.items():
        total = sum(score.queries for score in scores)

        def mean(values) -> float:  # query-weighted over the folds
            return sum(value * score.queries for value, score in zip(values, scores)) / total

        table = scores[0].table.copy()
        for metric in _METRICS:
            table[metric] = mean(score.table[metric].to_numpy() for score in scores)
        single = {key: {m: mean(score.single[key][m] for score in scores) for m in _METRICS} for key in ("dense", "bm25")}
        pooled[name] = {"queries": total, "encoder": eval_encoder, **summarize_grid(table, single),
                        "folds": [{"fold": score.fold, "queries": score.queries,
                                   "train_seconds": None if score.seconds is None else round(score.seconds, 1),
                                   **({"engine": score.engine} if score.engine else {})}
                                  for score in scores]}
        log(_describe(f"pooled over {config.folds} folds: {name} ({total} queries)", pooled[name], 0))
        if eval_config is not None:
            # the folds' rankings together rank every query once, by a model that never saw its company: one run
            # file for `matcher lab compare` against any other ranking of the whole benchmark
            run = output_dir / "runs" / f"{name}.trec"
            atomic_write_text(run, "".join(score.run_file.read_text(encoding="utf-8") for score in scores))
            pooled[name]["engine"] = {"config": str(eval_config), "run": str(run),
                                      **{m: mean(score.engine[m] for score in scores) for m in _METRICS}}
            log(f"pooled over {config.folds} folds: {name}, engine with {eval_config}: "
                f"{_metrics_text(pooled[name]['engine'])}")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "cross_validation.json").write_text(json.dumps(pooled, indent=2), encoding="utf-8")
    return pooled


def _trained_with(model_dir: Path, config: TrainConfig) -> bool:
    """Whether model_dir holds a model trained with exactly these settings."""
    try:
        saved = json.loads((model_dir / "training_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (model_dir / "modules.json").is_file() and all(saved.get(k) == v for k, v in asdict(config).items())


def _previous_train_seconds(output_dir: Path, fold: int) -> float | None:
    """A fold's training time as recorded by an earlier `cross_validate` run into output_dir (None if unknown)."""
    try:
        earlier = json.loads((output_dir / "cross_validation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in earlier.values():
        for part in entry.get("folds", []):
            if part.get("fold") == fold and part.get("train_seconds") is not None:
                return float(part["train_seconds"])
    return None
