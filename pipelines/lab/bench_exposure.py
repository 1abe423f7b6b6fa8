"""How concentrated the nightly lists are, and what an exposure cap changes (prints a table; not a test).

For every query record of one direction the engine ranks `--depth` candidates once; each cap is then applied with
`matcher.rank.exposure.cap_exposure`, as `matcher match --max-per-target` does, and the top-k lists are described:
the most lists one target is in, distinct targets, the share of demands (patent -> enterprise), how often rank 1
is an enterprise holding a similar patent, how much of each list the engine itself put in its top k.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from matcher.config import PROJECT_ROOT, load_config
from matcher.engine import Matcher
from matcher.rank.exposure import cap_exposure
from matcher.schema import RECORD_DIRECTIONS, Direction
from matcher.text.normalize import is_organisation_name

app = typer.Typer(add_completion=False)


def describe(lists: pd.DataFrame, names: dict[str, str], k: int, enterprises: bool) -> dict[str, float]:
    """Concentration figures of top-k lists (columns query_id, rank, engine_rank, target_id, portfolio); with
    `enterprises` (patent -> enterprise lists) also the share of demands among the targets and how often rank 1
    holds a patent similar to the query."""
    counts = lists["target_id"].value_counts()
    first = lists[lists["rank"] == 1]
    out = {
        "most lists": int(counts.iloc[0]) if len(counts) else 0,
        "target in most": names.get(counts.index[0], "")[:16] if len(counts) else "",
        "distinct": int(lists["target_id"].nunique()),
    }
    if enterprises:
        out["demands %"] = round(100 * float((~lists["target_id"].map(names).map(is_organisation_name)).mean()), 1)
        out["rank 1 holds a similar patent %"] = round(100 * float((first["portfolio"] > 0).mean()), 1)
    return out | {
        "rank 1 kept %": round(100 * float((first["engine_rank"] == 1).mean()), 1),
        "from below top k %": round(100 * float((lists["engine_rank"] > k).mean()), 1),
        "short lists": int((lists.groupby("query_id").size() < k).sum()),
    }


@app.command()
def main(
    index_dir: Annotated[Path, typer.Option("--index-dir")] = PROJECT_ROOT / "artifacts" / "index",
    direction: Annotated[str, typer.Option("--direction", help=" or ".join(RECORD_DIRECTIONS))] = Direction.PATENT_TO_ENTERPRISE.value,
    k: Annotated[int, typer.Option("--k")] = 10,
    depth: Annotated[int, typer.Option("--depth", help="candidates ranked per query")] = 100,
    caps: Annotated[str, typer.Option("--caps", help="comma-separated caps; 0 = none")] = "0,50,20,10",
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
) -> None:
    """Rank every record of one direction once, then print the lists' concentration under each cap."""
    if direction not in RECORD_DIRECTIONS:
        raise typer.BadParameter(f"choose one of {[d.value for d in RECORD_DIRECTIONS]}", param_hint="--direction")
    source, target = Direction(direction).source, Direction(direction).target
    matcher = Matcher.load(index_dir, load_config(config))
    matcher.collection(source)  # a clear error when a side is not indexed
    records = matcher.collection(target).records
    names = dict(zip(records["id"], records["name" if target.value == "enterprise" else "title"]))
    queries = [matcher.query_for(source, i) for i in matcher.collection(source).ids]
    t = time.perf_counter()
    results = matcher.search(queries, target, k=depth, explain=False)
    print(f"{direction}: {len(queries):,} lists ranked {depth} deep in {time.perf_counter() - t:.0f} s")
    deep = pd.DataFrame(
        [(r.query.id, m.rank, m.target_id, m.score, m.components.get("portfolio", 0.0)) for r in results for m in r.matches],
        columns=["query_id", "rank", "target_id", "score", "portfolio"],
    )
    rows = {}
    for cap in (int(c) for c in caps.split(",") if c.strip()):
        if cap:
            lists, _ = cap_exposure(deep, k, cap)
        else:
            lists = deep[deep["rank"] <= k].assign(engine_rank=lambda d: d["rank"])
        rows[f"cap {cap}" if cap else "no cap"] = describe(lists, names, k, target.value == "enterprise")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).T.to_string())


if __name__ == "__main__":
    app()
