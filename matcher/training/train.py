"""Seeded, reproducible contrastive training of the static patent/enterprise encoder, with a model card.

The model is a StaticEmbedding (mean of learned piece vectors, then L2 normalisation) over a Unigram
tokenizer trained on the same texts. Training is symmetric in-batch InfoNCE (MultipleNegativesRankingLoss
in both directions) on (anchor, positive) pairs; every batch is drawn from one source group, so in-batch
negatives are of the same kind as the positive (company profiles against company profiles, ...).
It runs on CPU in a few minutes and is bit-for-bit reproducible for a seed on the same machine.
"""

from __future__ import annotations

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

from matcher.training.model import build_model, init_weights, train_tokenizer
from matcher.training.pairs import Pair, summarize

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
        holdout_fold: dev-company fold never trained on, for the lab's cross-validation on the shared data (None:
            every dev company's patents are training pairs; see `matcher.lab.folds.training_exclusions`). Kept
            here so that every model's training_config.json records it.
        folds: number of dev-company folds (the lab's cross-validation).
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
        metrics: benchmark results when evaluated by the lab ({} otherwise).
        source: where the pairs came from: "shared" (the shared data, benchmark companies handled as in
            `matcher.lab.folds`) or a description of a user corpus (e.g. "the index at artifacts/index").
    """

    output_dir: Path
    config: TrainConfig
    pair_counts: dict[str, int]
    seconds: float
    steps: int
    losses: list[float]
    metrics: dict[str, dict] = field(default_factory=dict)
    source: str = "the given pairs"


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
    pairs: Sequence[Pair],
    *,
    config: TrainConfig | None = None,
    source: str = "the given pairs",
    log=print,
) -> TrainResult:
    """Train the static encoder on pairs and write a sentence-transformers model directory with a model card.

    Args:
        output_dir: where the model is written (created; existing model files are overwritten).
        pairs: training pairs (e.g. `matcher.training.pairs.index_pairs`).
        config: training settings (defaults: `TrainConfig()`).
        source: what `pairs` were built from, for the model card.
        log: progress printer.

    Returns:
        The training result (also summarised in output_dir/README.md and training_config.json).

    Raises:
        ValueError: no pairs to train on.
    """
    config = config or TrainConfig()
    output_dir = Path(output_dir)
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


def write_model_card(result: TrainResult, *, data_note: Sequence[str] | None = None, notes: Sequence[str] = (),
                     appendix: Sequence[str] = ()) -> Path:
    """Write README.md (model card) into the model directory.

    Args:
        result: the training result.
        data_note: the paragraph on the training data (default: the self-supervised pairs of a user corpus).
        notes: lines after the table of pair groups (e.g. a data licence).
        appendix: lines at the end (e.g. benchmark results).

    Returns:
        The card's path.
    """
    cfg = result.config
    lines = [
        f"# {result.output_dir.name}: static Chinese patent / enterprise encoder",
        "",
        "A sentence-transformers StaticEmbedding model (mean of learned Unigram-piece vectors, then L2 "
        "normalisation) trained from scratch on this machine by `matcher train` "
        "(`matcher.training.train.train_encoder`). No pretrained weights were used.",
        "",
        "Load it with `matcher.encode.load_encoder(path)` or `MatcherConfig(encoder=path)`; on the company "
        "benchmarks it works best as an ensemble with USE-m3: `MATCHER_ENCODER=\"use-m3+<path>\"` "
        "(`matcher.encode.ensemble`).",
        "",
        "## Training data",
        "",
        *(data_note if data_note is not None else [
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
    lines += list(notes)
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
    lines += list(appendix)
    path = result.output_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


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
