"""`matcher train`: train the static patent/enterprise encoder from scratch (CPU, minutes) on the records of a built
index (your own corpus, self-supervised). Training on the shared research data is `matcher lab train`.

Example:
    matcher train --from-index artifacts/index --out models/own-corpus
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False)

# The training options `matcher train` shares with `matcher lab train`.
SeedOpt = Annotated[int, typer.Option("--seed")]
EpochsOpt = Annotated[int, typer.Option("--epochs")]
DimOpt = Annotated[int, typer.Option("--dim", help="embedding size")]
VocabOpt = Annotated[int, typer.Option("--vocab-size")]
BatchOpt = Annotated[int, typer.Option("--batch-size")]
LrOpt = Annotated[float, typer.Option("--lr")]
TokenizerTextsOpt = Annotated[int, typer.Option("--tokenizer-texts", help="texts that train the tokenizer")]
MixOpt = Annotated[Optional[list[str]], typer.Option("--mix", help="per-source rate, e.g. --mix scope_item=0.5")]


@app.command()
def main(
    from_index: Annotated[Path, typer.Option(
        "--from-index", help="train on the records of this built index (your own patents and enterprises: title <-> "
                             "abstract, name <-> scope, scope item <-> profile, profile <-> held patents)")],
    out: Annotated[Path, typer.Option("--out", help="model directory to write (e.g. models/own-corpus)")],
    seed: SeedOpt = 0,
    epochs: EpochsOpt = 3,
    dim: DimOpt = 256,
    vocab_size: VocabOpt = 30_000,
    batch_size: BatchOpt = 256,
    lr: LrOpt = 0.05,
    tokenizer_texts: TokenizerTextsOpt = 120_000,
    mix: MixOpt = None,
) -> None:
    """Build self-supervised pairs from an index's records, train, write the model and its card."""
    from matcher.training.train import TrainConfig, parse_mix, train_encoder

    config = TrainConfig(seed=seed, epochs=epochs, dim=dim, vocab_size=vocab_size, batch_size=batch_size, lr=lr,
                         tokenizer_texts=tokenizer_texts, mix=parse_mix(mix))
    pairs = index_pairs_of(from_index, seed)
    result = train_encoder(out, pairs, config=config, source=f"the records of the index at {from_index}",
                           log=lambda msg: typer.echo(msg, err=True))
    typer.echo(json.dumps({"model": str(result.output_dir), "train_seconds": round(result.seconds, 1),
                           "pairs": result.pair_counts, "metrics": result.metrics}, ensure_ascii=False))


def index_pairs_of(index_dir: Path, seed: int) -> list:
    """Self-supervised pairs from the records saved in a built index (either kind may be absent).

    Args:
        index_dir: the index folder.
        seed: chooses the scope items.

    Returns:
        The pairs (`matcher.training.pairs.index_pairs`).

    Raises:
        typer.BadParameter: no built index there, or no text to pair.
    """
    from matcher.errors import NotBuiltError
    from matcher.index.collection import Collection
    from matcher.schema import Kind
    from matcher.training.pairs import index_pairs, summarize

    records = {}
    for kind in Kind:
        try:
            records[kind] = Collection.read_records(index_dir / kind.value)
        except NotBuiltError:
            records[kind] = None
    if all(r is None for r in records.values()):
        raise typer.BadParameter(f"no built index at {index_dir}: run `matcher build` first", param_hint="--from-index")
    pairs = index_pairs(records[Kind.PATENT], records[Kind.ENTERPRISE], seed=seed)
    if not pairs:
        raise typer.BadParameter(f"the index at {index_dir} has no texts to make training pairs of", param_hint="--from-index")
    typer.echo(f"{len(pairs)} pairs from {index_dir}: {summarize(pairs)}", err=True)
    return pairs


if __name__ == "__main__":
    app()
