"""`matcher lab train-activity`: train the patent-activity model on the shared data (or on a built index's
records), measure it on the held-out companies and cross-validate its fusion weight over dev-company folds.

Examples:
    matcher lab train-activity --out models/activity --shared-dir ../shared --cross-validate
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.train_activity import index_labels_of

app = typer.Typer(add_completion=False)


@app.command()
def main(
    out: Annotated[Path, typer.Option("--out", help="model directory to write (e.g. models/activity)")],
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="folder with data/ and benchmarks/")] = None,
    from_index: Annotated[Optional[Path], typer.Option(
        "--from-index", help="train on this built index instead: enterprises named as applicants of its patents are "
                             "the patent-active ones")] = None,
    c: Annotated[float, typer.Option("--c", min=1e-6, help="inverse regularisation of the logistic regression")] = 0.3,
    min_df: Annotated[int, typer.Option("--min-df", min=1, help="profiles an n-gram must occur in")] = 5,
    min_positives: Annotated[int, typer.Option("--min-positives", min=1, help="patent-active enterprises needed")] = 10,
    cross_validate: Annotated[bool, typer.Option(
        "--cross-validate", help="(shared data) also train one model per dev-company fold (OUT/fold-K) and score "
                                 "p2c-dev's queries of that fold with each activity weight, and the full model on the "
                                 "patents of the filers no dev benchmark judges; OUT/cross_validation.json")] = False,
    folds: Annotated[int, typer.Option("--folds", min=2)] = 2,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="embedding cache for --cross-validate")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="with --cross-validate: an engine config whose encoder and patent -> enterprise fusion are "
                         "scored (e.g. config/ensemble.json); default: the built-in defaults")] = None,
    eval_encoder: Annotated[Optional[str], typer.Option(
        "--eval-encoder", help="with --cross-validate: the engine's encoder, {fold} standing for the fold number, e.g. "
                               "'use-m3*2+models/cv/fold-{fold}' (an encoder cross-validated on the same folds)")] = None,
) -> None:
    """Label enterprises as patent-active or not, fit the model, write it with its card."""
    from matcher.errors import MatcherError
    from matcher.ingest.sources import shared_dir as default_shared_dir
    from matcher.lab.activity import cross_validate_activity, shared_labels, train_activity

    shared = shared_dir or default_shared_dir()
    try:
        if from_index is not None:
            if cross_validate:
                raise typer.BadParameter("--cross-validate needs the shared benchmarks' companies, not an index",
                                         param_hint="--from-index")
            labels = index_labels_of(from_index)
            model = train_activity(out, labels, c=c, min_df=min_df, min_positives=min_positives)
        else:
            if not (shared / "data" / "registry").is_dir():
                raise typer.BadParameter(f"{shared} has no data/registry folder", param_hint="--shared-dir")
            labels = shared_labels(shared)
            model = train_activity(out, labels, c=c, min_df=min_df, min_positives=min_positives, shared_dir=shared)
        report = {"model": str(out), "positives": labels.positives, "enterprises": len(labels.labels),
                  "train_seconds": model.card["train_seconds"], "cross_validated_auc": model.card.get("cross_validated_auc"),
                  "held_out_auc": model.card.get("held_out_auc", {})}
        if cross_validate:
            from matcher.config import Direction, load_config

            engine = load_config(config)
            report["cross_validation"] = cross_validate_activity(
                out, shared, c=c, min_df=min_df, folds=folds, cache_dir=cache_dir, encoder=eval_encoder or engine.encoder,
                base=engine.fusion_for(Direction.PATENT_TO_ENTERPRISE), final_model=out, final_encoder=engine.encoder,
                log=lambda m: typer.echo(m, err=True))
    except MatcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    app()
