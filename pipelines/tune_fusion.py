"""Grid-search fusion method and weights per benchmark (one direction each) and print the table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from matcher.config import load_config
from matcher.engine import Matcher
from matcher.tuning import collect_pools, default_settings, grid

app = typer.Typer(add_completion=False)


@app.command()
def main(
    benchmarks: Annotated[list[Path], typer.Argument(help="BEIR folders")],
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
    pool: Annotated[int, typer.Option("--pool")] = 200,
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV with every setting's metrics")] = None,
    query_modes: Annotated[str, typer.Option("--query-modes", help="jieba modes for query terms to compare")] = "search,accurate",
) -> None:
    """Evaluate weighted-sum and RRF fusion with dense weights 0..1 on each benchmark."""
    frames = []
    for folder in benchmarks:
        for mode in [m.strip() for m in query_modes.split(",") if m.strip()]:
            pools = collect_pools(folder, Matcher(load_config(config)), pool=pool, query_segment_mode=mode)
            table = grid(pools, default_settings(), query_segment_mode=mode)
            table.insert(0, "benchmark", folder.name)
            frames.append(table)
            best = table.sort_values("ndcg@10", ascending=False).head(5)
            print(best.round(4).to_string(index=False), flush=True)
    if out:
        pd.concat(frames).to_csv(out, index=False)


if __name__ == "__main__":
    app()
