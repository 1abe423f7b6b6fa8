"""`matcher train-activity`: train the patent-activity model (which enterprises look like those that file patents)
on the records of a built index, and use it with `"activity_model": "DIR"` in an engine config (see
config/activity.json). Training on the shared research data is `matcher lab train-activity`.

Example:
    matcher train-activity --from-index artifacts/index --out models/own-activity
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    from_index: Annotated[Path, typer.Option(
        "--from-index", help="train on this built index: enterprises named as applicants of its patents are the "
                             "patent-active ones")],
    out: Annotated[Path, typer.Option("--out", help="model directory to write (e.g. models/own-activity)")],
    c: Annotated[float, typer.Option("--c", min=1e-6, help="inverse regularisation of the logistic regression")] = 0.3,
    min_df: Annotated[int, typer.Option("--min-df", min=1, help="profiles an n-gram must occur in")] = 5,
    min_positives: Annotated[int, typer.Option("--min-positives", min=1, help="patent-active enterprises needed")] = 10,
) -> None:
    """Label an index's enterprises as patent-active or not, fit the model, write it with its card."""
    from matcher.errors import MatcherError
    from matcher.training.activity import train_activity

    try:
        labels = index_labels_of(from_index)
        model = train_activity(out, labels, c=c, min_df=min_df, min_positives=min_positives)
    except MatcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"model": str(out), "positives": labels.positives, "enterprises": len(labels.labels),
                           "train_seconds": model.card["train_seconds"],
                           "cross_validated_auc": model.card.get("cross_validated_auc"),
                           "held_out_auc": model.card.get("held_out_auc", {})}, ensure_ascii=False))


def index_labels_of(index_dir: Path):
    """Labels from the records saved in a built index (it must have enterprises; patents give the positives).

    Args:
        index_dir: the index folder.

    Returns:
        The `matcher.training.activity.ActivityLabels`.

    Raises:
        typer.BadParameter: the index has no enterprises.
    """
    from matcher.errors import NotBuiltError
    from matcher.index.collection import Collection
    from matcher.schema import Kind
    from matcher.training.activity import index_labels

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
