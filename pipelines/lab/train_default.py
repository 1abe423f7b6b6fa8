"""`matcher lab train-default`: train the default engine's models from ../shared (README command 1), or say that USE-m3
serves when there is no shared data.

The default engine uses the trained static encoder and the patent-activity model when models/ holds both
(`matcher.config.trained_models`), else USE-m3 without the activity prior. This command trains both with the
shipped recipes (`matcher lab train --seed 0`, `matcher lab train-activity`), a few minutes on 2 cores; a model
already there is kept unless --force. Without ../shared it trains nothing and exits 0: an office trains its own with
`matcher train --from-index` and `matcher train-activity --from-index`.

Example:
    matcher lab train-default && matcher build && matcher match
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    models: Annotated[Optional[Path], typer.Option(
        "--models", help="where the models go (default: env MATCHER_MODELS_DIR, else models/)")] = None,
    shared_dir: Annotated[Optional[Path], typer.Option("--shared-dir", help="folder with data/ and benchmarks/")] = None,
    force: Annotated[bool, typer.Option("--force", help="retrain a model that is already there")] = False,
) -> None:
    """Train models/patent-static and models/activity from the shared data when it is there."""
    import os

    from matcher.config import PROJECT_ROOT
    from matcher.errors import MatcherError
    from matcher.ingest.sources import shared_dir as default_shared_dir

    folder = models or Path(os.environ.get("MATCHER_MODELS_DIR") or PROJECT_ROOT / "models")
    shared = shared_dir or default_shared_dir()
    if not (shared / "data" / "registry").is_dir():
        typer.echo(f"no shared data in {shared}: nothing trained; the build uses the trained models in {folder} if "
                   "they are there, else USE-m3 (train your own with `matcher train --from-index` and "
                   "`matcher train-activity --from-index`)", err=True)
        return
    report: dict[str, dict] = {}
    try:
        encoder, activity = folder / "patent-static", folder / "activity"
        if force or not (encoder / "modules.json").is_file():
            from matcher.lab.training import train_encoder
            from matcher.training.train import TrainConfig

            started = time.perf_counter()
            train_encoder(encoder, shared_dir=shared, config=TrainConfig(seed=0), log=lambda m: typer.echo(m, err=True))
            report["encoder"] = {"model": str(encoder), "seconds": round(time.perf_counter() - started, 1)}
        else:
            typer.echo(f"{encoder}: already trained (--force retrains it)", err=True)
        if force or not (activity / "activity.json").is_file():
            from matcher.lab.activity import shared_labels, train_activity

            started = time.perf_counter()
            train_activity(activity, shared_labels(shared), shared_dir=shared)
            report["activity"] = {"model": str(activity), "seconds": round(time.perf_counter() - started, 1)}
        else:
            typer.echo(f"{activity}: already trained (--force retrains it)", err=True)
    except MatcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    app()
