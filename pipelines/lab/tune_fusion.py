"""Grid-search fusion method and weights per benchmark (one direction each), print the table, the chosen setting
and what that choice is worth on queries it was not chosen on (cross-validated)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from matcher.config import load_config
from matcher.engine import Matcher
from matcher.lab.tuning import collect_pools, cross_validate_selection, default_settings, grid, grid_neighbours, query_table, select_setting

app = typer.Typer(add_completion=False)


@app.command()
def main(
    benchmarks: Annotated[list[Path], typer.Argument(help="BEIR folders")],
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
    pool: Annotated[int, typer.Option("--pool")] = 200,
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV with every setting's metrics")] = None,
    query_modes: Annotated[str, typer.Option("--query-modes", help="jieba modes for query terms to compare")] = "search,accurate",
    folds: Annotated[int, typer.Option("--folds", help="cross-validation folds for the held-out estimate")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="random fold splits averaged")] = 5,
    smooth: Annotated[bool, typer.Option("--smooth/--no-smooth", help="choose by the mean of each setting's grid neighbourhood")] = False,
) -> None:
    """Evaluate weighted-sum and RRF fusion settings on each benchmark and choose one per benchmark."""
    frames = []
    settings = default_settings()
    neighbours = grid_neighbours(settings) if smooth else None
    for folder in benchmarks:
        for mode in [m.strip() for m in query_modes.split(",") if m.strip()]:
            pools = collect_pools(folder, Matcher(load_config(config)), pool=pool, query_segment_mode=mode)
            per_query = query_table(pools, settings)
            table = grid(pools, settings, query_segment_mode=mode, table=per_query)
            table.insert(0, "benchmark", folder.name)
            frames.append(table)
            print(table.sort_values("ndcg@10", ascending=False).head(5).round(4).to_string(index=False), flush=True)
            chosen = table.iloc[select_setting(per_query, neighbours)]
            held = cross_validate_selection(per_query, neighbours, folds=folds, repeats=repeats)
            print(f"{folder.name} ({mode}): chosen {chosen['method']} "
                  + " / ".join(f"{n} {chosen[n]:g}" for n in ("dense", "bm25", "items", "phrase"))
                  + f": nDCG@10 {chosen['ndcg@10']:.4f}, Recall@100 {chosen['recall@100']:.4f}, MRR@10 {chosen['mrr@10']:.4f}; "
                  + f"held-out ({held.folds}-fold x {held.repeats}): nDCG@10 {held.metrics['ndcg@10']:.4f} (sd {held.ndcg_sd:.4f}), "
                  + f"Recall@100 {held.metrics['recall@100']:.4f}, MRR@10 {held.metrics['mrr@10']:.4f}", flush=True)
    if out:
        pd.concat(frames).to_csv(out, index=False)


if __name__ == "__main__":
    app()
