"""Train the patent-activity model (which enterprises look like those that file patents) on the shared data or on
the records of a built index, and use it with `"activity_model": "DIR"` in an engine config (see
config/activity.json).

Examples:
    python pipelines/train_activity.py --out models/activity --shared-dir ../shared --cross-validate
    python pipelines/train_activity.py --out models/own-activity --from-index artifacts/index
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

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
    capital: Annotated[bool, typer.Option(
        "--capital/--no-capital", help="also read the enterprises' registered capital (注册资本) where the records carry "
                                       "it: larger firms look more patent-active, which lifts patent -> enterprise "
                                       "recall but favours them over small ones (docs/quality.md, stop 19)")] = True,
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
    from matcher.training.activity import cross_validate_activity, index_labels, shared_labels, train_activity

    shared = shared_dir or default_shared_dir()
    try:
        if from_index is not None:
            if cross_validate:
                raise typer.BadParameter("--cross-validate needs the shared benchmarks' companies, not an index",
                                         param_hint="--from-index")
            labels = _index_labels(from_index, index_labels)
            model = train_activity(out, labels, c=c, min_df=min_df, min_positives=min_positives, capital=capital)
        else:
            if not (shared / "data" / "registry").is_dir():
                raise typer.BadParameter(f"{shared} has no data/registry folder", param_hint="--shared-dir")
            labels = shared_labels(shared)
            model = train_activity(out, labels, c=c, min_df=min_df, min_positives=min_positives, shared_dir=shared,
                                   capital=capital)
        report = {"model": str(out), "positives": labels.positives, "enterprises": len(labels.labels),
                  "train_seconds": model.card["train_seconds"], "cross_validated_auc": model.card.get("cross_validated_auc"),
                  "held_out_auc": model.card.get("held_out_auc", {})}
        if cross_validate:
            from matcher.config import Direction, load_config

            engine = load_config(config)
            report["cross_validation"] = cross_validate_activity(
                out, shared, c=c, min_df=min_df, folds=folds, cache_dir=cache_dir, encoder=eval_encoder or engine.encoder,
                base=engine.fusion_for(Direction.PATENT_TO_ENTERPRISE), final_model=out, final_encoder=engine.encoder,
                log=lambda m: typer.echo(m, err=True), capital=capital)
    except MatcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, ensure_ascii=False))


def _index_labels(index_dir: Path, index_labels):
    """Labels from the records saved in a built index (it must have enterprises; patents give the positives)."""
    from matcher.errors import NotBuiltError
    from matcher.index.collection import Collection
    from matcher.schema import Kind

    try:
        enterprises = Collection.read_records(index_dir / Kind.ENTERPRISE.value)
    except NotBuiltError:
        raise typer.BadParameter(f"no enterprises in an index at {index_dir}: run `matcher build` first",
                                 param_hint="--from-index") from None
    try:
        patents = Collection.read_records(index_dir / Kind.PATENT.value)
    except NotBuiltError:
        patents = None
    return index_labels(patents, enterprises, source=f"the records of the index at {index_dir}")


if __name__ == "__main__":
    app()
