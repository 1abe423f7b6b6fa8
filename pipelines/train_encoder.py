"""Train the static patent/enterprise encoder from scratch on the shared data (CPU, minutes).

Example:
    python pipelines/train_encoder.py --out models/patent-static --shared-dir ../shared --seed 0 --evaluate
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    out: Annotated[Path, typer.Option("--out", help="model directory to write (e.g. models/patent-static)")],
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="folder with data/ and benchmarks/")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    epochs: Annotated[int, typer.Option("--epochs")] = 3,
    dim: Annotated[int, typer.Option("--dim", help="embedding size")] = 256,
    vocab_size: Annotated[int, typer.Option("--vocab-size")] = 30_000,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    lr: Annotated[float, typer.Option("--lr")] = 0.05,
    registry_sample: Annotated[int, typer.Option("--registry-sample", help="companies from the 200k registry")] = 40_000,
    tokenizer_texts: Annotated[int, typer.Option("--tokenizer-texts", help="texts that train the tokenizer")] = 120_000,
    mix: Annotated[Optional[list[str]], typer.Option("--mix", help="per-source rate, e.g. --mix scope_item=0.5")] = None,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="score the dev benchmarks and re-tune fusion")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="embedding cache for --evaluate")] = None,
) -> None:
    """Build training pairs (dev-benchmark companies excluded), train, write the model and its card."""
    from matcher.ingest.sources import shared_dir as default_shared_dir
    from matcher.training.train import TrainConfig, parse_mix, train_encoder

    shared = shared_dir or default_shared_dir()
    if not (shared / "data").is_dir():
        raise typer.BadParameter(f"{shared} has no data/ folder", param_hint="--shared-dir")
    config = TrainConfig(seed=seed, epochs=epochs, dim=dim, vocab_size=vocab_size, batch_size=batch_size, lr=lr,
                         registry_sample=registry_sample, tokenizer_texts=tokenizer_texts, mix=parse_mix(mix))
    result = train_encoder(out, shared_dir=shared, config=config, evaluate=evaluate, cache_dir=cache_dir,
                           log=lambda msg: typer.echo(msg, err=True))
    typer.echo(json.dumps({"model": str(result.output_dir), "train_seconds": round(result.seconds, 1),
                           "pairs": result.pair_counts, "metrics": result.metrics}, ensure_ascii=False))


if __name__ == "__main__":
    app()
