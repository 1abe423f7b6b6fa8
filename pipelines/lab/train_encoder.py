"""`matcher lab train`: train the static patent/enterprise encoder from scratch (CPU, minutes) on the shared data
(or on a built index's records), score it on the dev benchmarks, cross-validate it over dev-company folds.

Examples:
    matcher lab train --out models/patent-static --shared-dir ../shared --seed 0 --evaluate
    matcher lab train --out models/cv --shared-dir ../shared --cross-validate --eval-encoder 'use-m3+{model}*2'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.train_encoder import (
    BatchOpt,
    DimOpt,
    EpochsOpt,
    LrOpt,
    MixOpt,
    SeedOpt,
    TokenizerTextsOpt,
    VocabOpt,
    index_pairs_of,
)

app = typer.Typer(add_completion=False)


@app.command()
def main(
    out: Annotated[Path, typer.Option("--out", help="model directory to write (e.g. models/patent-static)")],
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="folder with data/ and benchmarks/")] = None,
    seed: SeedOpt = 0,
    epochs: EpochsOpt = 3,
    dim: DimOpt = 256,
    vocab_size: VocabOpt = 30_000,
    batch_size: BatchOpt = 256,
    lr: LrOpt = 0.05,
    registry_sample: Annotated[int, typer.Option("--registry-sample", help="companies from the 200k registry")] = 40_000,
    tokenizer_texts: TokenizerTextsOpt = 120_000,
    mix: MixOpt = None,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="score kw2p-dev (with --holdout-fold also c2p / p2c-dev on the held-out companies), re-tuning fusion")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="embedding cache for --evaluate")] = None,
    holdout_fold: Annotated[Optional[int], typer.Option(
        "--holdout-fold", help="leave this fold of dev companies out of training and score c2p / p2c on it")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="dev-company folds")] = 2,
    cross_validate: Annotated[bool, typer.Option(
        "--cross-validate", help="train one model per fold (OUT/fold-K), score each on its held-out companies, "
                                 "pool the c2p / p2c numbers into OUT/cross_validation.json")] = False,
    eval_encoder: Annotated[str, typer.Option(
        "--eval-encoder", help="with --cross-validate: the encoder spec scored, {model} standing for the fold model "
                               "and {fold} for its number, e.g. 'use-m3+{model}*2' for the ensemble with USE-m3, "
                               "'use-m3*3+{model}+models/cv-s1/fold-{fold}+models/cv-s2/fold-{fold}' with two more "
                               "seeds' fold models")] = "{model}",
    eval_config: Annotated[Optional[Path], typer.Option(
        "--eval-config", help="with --cross-validate: also score each fold's c2p / p2c queries end to end with this "
                              "engine configuration (e.g. config/ensemble.json; its encoder replaced by "
                              "--eval-encoder, {fold} in its activity_model by the fold number), every signal taking "
                              "part")] = None,
    reuse_models: Annotated[bool, typer.Option(
        "--reuse-models", help="with --cross-validate: score fold models already in OUT that were trained with the "
                               "same settings instead of retraining them")] = False,
    from_index: Annotated[Optional[Path], typer.Option(
        "--from-index", help="train on the records of this built index (your own patents and enterprises: title <-> "
                             "abstract, name <-> scope, scope item <-> profile, profile <-> held patents) instead of "
                             "the shared data")] = None,
) -> None:
    """Build training pairs (held-out companies excluded), train, write the model and its card."""
    from matcher.ingest.sources import shared_dir as default_shared_dir
    from matcher.lab.training import cross_validate as run_cross_validation, train_encoder
    from matcher.training.train import TrainConfig, parse_mix

    shared = shared_dir or default_shared_dir()
    if from_index is not None:
        if cross_validate or holdout_fold is not None:
            raise typer.BadParameter("--cross-validate and --holdout-fold need the shared benchmarks' companies, "
                                     "not an index", param_hint="--from-index")
        if evaluate and not (shared / "benchmarks").is_dir():
            raise typer.BadParameter(f"--evaluate needs the benchmarks in {shared}/benchmarks", param_hint="--shared-dir")
    elif not (shared / "data").is_dir():
        raise typer.BadParameter(f"{shared} has no data/ folder", param_hint="--shared-dir")
    config = TrainConfig(seed=seed, epochs=epochs, dim=dim, vocab_size=vocab_size, batch_size=batch_size, lr=lr,
                         registry_sample=registry_sample, tokenizer_texts=tokenizer_texts, mix=parse_mix(mix),
                         holdout_fold=holdout_fold, folds=folds)
    if holdout_fold is not None and not 0 <= holdout_fold < folds:
        raise typer.BadParameter(f"must be between 0 and {folds - 1}", param_hint="--holdout-fold")
    if "{model}" not in eval_encoder:
        raise typer.BadParameter("must contain {model} (the fold's model directory)", param_hint="--eval-encoder")
    if cross_validate:
        pooled = run_cross_validation(out, shared_dir=shared, config=config, cache_dir=cache_dir,
                                      eval_encoder=eval_encoder, reuse_models=reuse_models, eval_config=eval_config,
                                      log=lambda msg: typer.echo(msg, err=True))
        typer.echo(json.dumps({name: {key: e[key] for key in ("queries", "dense", "best", "engine") if key in e}
                               for name, e in pooled.items()}, ensure_ascii=False))
        return
    if from_index is not None:
        pairs = index_pairs_of(from_index, seed)
        result = train_encoder(out, pairs=pairs, shared_dir=shared if evaluate else None, config=config, evaluate=evaluate,
                               cache_dir=cache_dir, source=f"the records of the index at {from_index}",
                               log=lambda msg: typer.echo(msg, err=True))
    else:
        result = train_encoder(out, shared_dir=shared, config=config, evaluate=evaluate, cache_dir=cache_dir,
                               log=lambda msg: typer.echo(msg, err=True))
    typer.echo(json.dumps({"model": str(result.output_dir), "train_seconds": round(result.seconds, 1),
                           "pairs": result.pair_counts, "metrics": result.metrics}, ensure_ascii=False))


if __name__ == "__main__":
    app()
