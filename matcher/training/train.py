"""Seeded, reproducible contrastive training of the static patent/enterprise encoder, with a model card.

The model is a StaticEmbedding (mean of learned piece vectors, then L2 normalisation) over a Unigram
tokenizer trained on the same texts. Training is symmetric in-batch InfoNCE (MultipleNegativesRankingLoss
in both directions) on (anchor, positive) pairs; every batch is drawn from one source group, so in-batch
negatives are of the same kind as the positive (company profiles against company profiles, ...).
It runs on CPU in a few minutes and is bit-for-bit reproducible for a seed on the same machine.
"""

from __future__ import annotations

import gc
import json
import math
import platform
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from matcher.index.atomic import atomic_write_text
from matcher.training.model import build_model, init_weights, train_tokenizer
from matcher.training.pairs import DEV_BENCHMARKS, Pair, fold_query_ids, is_company_benchmark, shared_pairs, summarize

# Per-epoch sampling rate of each source group (1.0: every pair once; >1: repeated; <1: a random
# subset each epoch). Company <-> patent links are rare and the most on-target, so they are repeated.
DEFAULT_MIX: dict[str, float] = {
    "company_patent": 8.0,
    "applicant_patent": 2.0,
    "offer_class": 1.0,
    "patent_title": 1.0,
    "offer": 1.0,
    "demand": 1.0,
    "csl": 1.0,
    "company_name": 0.5,
    "scope_item": 0.25,
}


@dataclass
class TrainConfig:
    """Everything that determines the trained model (written into the model card).

    Attributes:
        seed: seeds Python, NumPy and torch (pair sampling, init, batch order).
        epochs: passes over the (re-sampled) pairs.
        dim: embedding size.
        vocab_size: Unigram vocabulary size.
        batch_size: pairs per batch (in-batch negatives = batch_size - 1).
        lr: peak learning rate (Adam on sparse gradients), decayed linearly to 10%.
        scale: similarity scale of the InfoNCE logits (1 / temperature).
        mix: per-source sampling rate per epoch (sources not named use 1.0).
        registry_sample: extra companies sampled from the 200k registry for name / scope pairs.
        tokenizer_texts: at most this many distinct texts train the tokenizer.
        threads: torch threads.
        holdout_fold: dev-company fold never trained on, for cross-validation (None: every dev company's
            patents are training pairs; see `matcher.training.pairs.training_exclusions`).
        folds: number of dev-company folds.
    """

    seed: int = 0
    epochs: int = 3
    dim: int = 256
    vocab_size: int = 30_000
    batch_size: int = 256
    lr: float = 0.05
    scale: float = 20.0
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    registry_sample: int = 40_000
    tokenizer_texts: int = 120_000
    threads: int = 2
    holdout_fold: int | None = None
    folds: int = 2


@dataclass
class TrainResult:
    """What `train_encoder` produced.

    Attributes:
        output_dir: the model directory.
        config: the training configuration.
        pair_counts: training pairs per source (before per-epoch sampling).
        seconds: wall-clock training time (tokenizer + optimisation, not pair building or evaluation).
        steps: optimiser steps.
        losses: mean loss per epoch.
        metrics: benchmark results when evaluated ({} otherwise).
        source: where the pairs came from: "shared" (the shared data, benchmark companies handled as in
            `matcher.training.pairs`) or a description of a user corpus (e.g. "the index at artifacts/index").
    """

    output_dir: Path
    config: TrainConfig
    pair_counts: dict[str, int]
    seconds: float
    steps: int
    losses: list[float]
    metrics: dict[str, dict] = field(default_factory=dict)
    source: str = "shared"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _batches(pairs: Sequence[Pair], config: TrainConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches: per source, sample by the mix rate, shuffle, cut; then shuffle batch order."""
    by_source: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_source.setdefault(pair.source, []).append(i)
    batches: list[np.ndarray] = []
    for source in sorted(by_source):
        idx = np.asarray(by_source[source])
        rate = float(config.mix.get(source, 1.0))
        if rate <= 0:
            continue
        whole, frac = int(math.floor(rate)), rate - math.floor(rate)
        parts = [rng.permutation(idx) for _ in range(whole)]
        if frac > 0:
            parts.append(rng.permutation(idx)[: int(round(frac * len(idx)))])
        drawn = np.concatenate(parts) if parts else idx[:0]
        for start in range(0, len(drawn), config.batch_size):
            chunk = drawn[start : start + config.batch_size]
            if len(chunk) >= 2:
                batches.append(chunk)
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def _bag_inputs(token_ids: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = np.concatenate(token_ids) if len(token_ids) else np.zeros(0, dtype=np.int64)
    return torch.from_numpy(flat.astype(np.int64)), torch.from_numpy(offsets.astype(np.int64))


def _info_nce(a: torch.Tensor, p: torch.Tensor, a_ids: np.ndarray, p_ids: np.ndarray, scale: float) -> torch.Tensor:
    """Symmetric in-batch InfoNCE; duplicates of the same text are not used as negatives."""
    a = F.normalize(a, dim=-1)
    p = F.normalize(p, dim=-1)
    logits = scale * a @ p.T
    same_p = torch.from_numpy(p_ids[:, None] == p_ids[None, :])
    same_a = torch.from_numpy(a_ids[:, None] == a_ids[None, :])
    false_neg = (same_p | same_a) & ~torch.eye(len(a_ids), dtype=torch.bool)
    logits = logits.masked_fill(false_neg, -1e4)
    target = torch.arange(len(a_ids))
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


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
    """Train the static encoder and write a sentence-transformers model directory with a model card.

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
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no training pairs")

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, config.threads))
    try:
        tokenizer, weights, steps, losses, seconds = _fit(pairs, config, log)
    finally:
        torch.set_num_threads(previous_threads)

    output_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(tokenizer, weights)
    model.save(str(output_dir))
    result = TrainResult(output_dir, config, summarize(pairs), seconds, steps, losses, source=source)
    (output_dir / "training_config.json").write_text(
        # no timings here: this file is part of the model id hash (the card README.md is not)
        json.dumps({**asdict(config), "pair_counts": result.pair_counts, "steps": steps}, ensure_ascii=False,
                   indent=2),
        encoding="utf-8",
    )
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
    write_model_card(result)
    return result


def _fit(pairs: Sequence[Pair], config: TrainConfig, log) -> tuple:
    """Train the tokenizer and the embedding table.

    Returns:
        (tokenizer, weights tensor, steps, mean loss per epoch, seconds).
    """
    seed_everything(config.seed)
    started = time.perf_counter()

    # distinct texts -> token ids (the tokenizer is trained on them first)
    texts: dict[str, int] = {}
    for pair in pairs:
        texts.setdefault(pair.anchor, len(texts))
        texts.setdefault(pair.positive, len(texts))
    text_list = list(texts)
    tokenizer_sample = text_list
    if len(text_list) > config.tokenizer_texts:
        pick = np.random.default_rng(config.seed).choice(len(text_list), config.tokenizer_texts, replace=False)
        tokenizer_sample = [text_list[i] for i in np.sort(pick)]
    tokenizer = train_tokenizer(tokenizer_sample, vocab_size=config.vocab_size)
    vocab = tokenizer.get_vocab_size()
    encoded = tokenizer.encode_batch(text_list, add_special_tokens=False)
    token_ids = [np.asarray(e.ids if e.ids else [0], dtype=np.int64) for e in encoded]
    anchors = np.array([texts[p.anchor] for p in pairs], dtype=np.int64)
    positives = np.array([texts[p.positive] for p in pairs], dtype=np.int64)
    log(f"tokenizer: {vocab} pieces, {len(text_list)} distinct texts ({time.perf_counter() - started:.0f}s)")

    bag = torch.nn.EmbeddingBag(vocab, config.dim, mode="mean", sparse=True)
    with torch.no_grad():
        bag.weight.copy_(init_weights(vocab, config.dim, config.seed))
    optimizer = torch.optim.SparseAdam(bag.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    epochs = [_batches(pairs, config, rng) for _ in range(config.epochs)]
    total = sum(len(e) for e in epochs)
    step, losses = 0, []
    for epoch, batches in enumerate(epochs):
        running = 0.0
        for batch in batches:
            for group in optimizer.param_groups:  # linear decay to 10% of the peak
                group["lr"] = config.lr * (1.0 - 0.9 * step / max(1, total))
            a_ids, p_ids = anchors[batch], positives[batch]
            a = bag(*_bag_inputs([token_ids[i] for i in a_ids]))
            p = bag(*_bag_inputs([token_ids[i] for i in p_ids]))
            loss = _info_nce(a, p, a_ids, p_ids, config.scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach())
            step += 1
        losses.append(running / max(1, len(batches)))
        log(f"epoch {epoch + 1}/{config.epochs}: {len(batches)} batches, loss {losses[-1]:.4f} "
            f"({time.perf_counter() - started:.0f}s)")
    return tokenizer, bag.weight.detach(), step, losses, time.perf_counter() - started


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


def write_model_card(result: TrainResult) -> Path:
    """Write README.md (model card) into the model directory.

    Args:
        result: the training result.

    Returns:
        The card's path.
    """
    cfg = result.config
    lines = [
        f"# {result.output_dir.name}: static Chinese patent / enterprise encoder",
        "",
        "A sentence-transformers StaticEmbedding model (mean of learned Unigram-piece vectors, then L2 "
        "normalisation) trained from scratch on this machine by `pipelines/train_encoder.py` "
        "(`matcher.training.train_encoder`). No pretrained weights were used.",
        "",
        "Load it with `matcher.encode.load_encoder(path)` or `MatcherConfig(encoder=path)`; on the company "
        "benchmarks it works best as an ensemble with USE-m3: `MATCHER_ENCODER=\"use-m3+<path>\"` "
        "(`matcher.encode.ensemble`).",
        "",
        "## Training data",
        "",
        *(_shared_data_note(cfg) if result.source == "shared" else [
            f"Contrastive (anchor, positive) pairs from {result.source}, self-supervised: patent title <-> "
            "abstract, enterprise name <-> its text, one scope item <-> the profile, and each enterprise's profile "
            "<-> every patent it holds (applicant = its name; `matcher.training.pairs.index_pairs`). Each batch "
            "comes from one group.",
        ]),
        "",
        "| group | pairs | sampled per epoch |",
        "|---|---|---|",
    ]
    for source, count in result.pair_counts.items():
        lines.append(f"| {source} | {count} | x{cfg.mix.get(source, 1.0):g} |")
    if result.source == "shared":
        lines += ["", "Registry data (CC BY-NC-SA 4.0) is used for training only inside this evaluation setting; a "
                  "model trained on it is not for release."]
    lines += [
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps(asdict(cfg), ensure_ascii=False, indent=2),
        "```",
        "",
        f"Training time: {result.seconds:.0f} s for {result.steps} steps on {cfg.threads} CPU "
        f"thread(s) ({platform.processor() or platform.machine()}); losses per epoch: "
        f"{', '.join(f'{x:.4f}' for x in result.losses)}.",
        "",
    ]
    if result.metrics:
        lines += [
            "## Dev benchmarks (full engine)",
            "",
            "Fusion re-tuned per benchmark with `matcher.lab.tuning` (one setting per benchmark).",
            "",
            "| benchmark | dense nDCG@10 | fused nDCG@10 | fused Recall@100 | fused MRR@10 | fusion |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in result.metrics.items():
            fusion = m["fusion"]
            lines.append(
                f"| {name} | {m['dense']['ndcg@10']:.4f} | {m['best']['ndcg@10']:.4f} | "
                f"{m['best']['recall@100']:.4f} | {m['best']['mrr@10']:.4f} | "
                f"{fusion['method']} " + " / ".join(f"{k} {v:g}" for k, v in fusion.items() if k not in ("method", "rrf_k"))
                + (f" (k={fusion['rrf_k']})" if fusion["method"] == "rrf" else "") + " |"
            )
        lines.append("")
        # in a sub-folder: files there are not part of the model id hash
        (result.output_dir / "eval").mkdir(exist_ok=True)
        (result.output_dir / "eval" / "metrics.json").write_text(json.dumps(result.metrics, indent=2), encoding="utf-8")
    path = result.output_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


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
            (`matcher.lab.evaluate.mirror_records`), as `matcher evaluate` does.
        config_file: the configuration JSON; its encoder is replaced by `encoder`, and "{fold}" in its
            activity_model stands for the fold number (an activity model cross-validated on the same folds).
        encoder: the fold's encoder spec.
        fold: the fold number.
        cache_dir: embedding cache.
        run_file: also write the ranking there (TREC run format, `matcher.lab.evaluate.write_run`).
        shared_dir: the shared folder whose registry fills the company profiles' attributes (the registered
            capital), as `matcher evaluate` does; None: the BEIR text only.

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
            gc.collect()  # the first engine of a process is kept by a cycle (see pipelines/cli.py evaluate): free it
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
            # file for `matcher compare` against any other ranking of the whole benchmark
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


def parse_mix(items: Sequence[str] | Mapping[str, float] | None) -> dict[str, float]:
    """Parse "source=rate" overrides on top of DEFAULT_MIX.

    Args:
        items: e.g. ["company_patent=4", "scope_item=0"], or a mapping.

    Returns:
        The full mix.

    Raises:
        ValueError: an item is not source=number.
    """
    mix = dict(DEFAULT_MIX)
    if not items:
        return mix
    if isinstance(items, Mapping):
        mix.update({k: float(v) for k, v in items.items()})
        return mix
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"mix item {item!r} is not source=rate")
        mix[key.strip()] = float(value)
    return mix
