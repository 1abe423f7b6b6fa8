"""Search latency and batch throughput on a built index (prints numbers; not a test)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from matcher.config import PROJECT_ROOT, load_config
from matcher.engine import Matcher
from matcher.schema import Kind
from matcher.threads import one_thread_per_query

app = typer.Typer(add_completion=False)


@app.command()
def main(
    index_dir: Annotated[Path, typer.Option("--index-dir")] = PROJECT_ROOT / "artifacts" / "index",
    queries: Annotated[int, typer.Option("--queries", help="stored records sampled per direction")] = 100,
    k: Annotated[int, typer.Option("--k")] = 10,
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Time single-query search (p50/p95, one thread per numeric library as the workbench answers them) and batched
    search per direction, with and without explanations."""
    t0 = time.perf_counter()
    matcher = Matcher.load(index_dir, load_config(config) if config else None)
    print(f"load: {time.perf_counter() - t0:.2f} s  " + ", ".join(f"{k.value}s={matcher.count(k):,}" for k in matcher.kinds))
    rng = random.Random(seed)
    for source, target in ((Kind.ENTERPRISE, Kind.PATENT), (Kind.PATENT, Kind.ENTERPRISE)):
        if not matcher.has(source) or not matcher.has(target):
            continue
        ids = rng.sample(matcher.collection(source).ids, min(queries, len(matcher.collection(source))))
        qs = [matcher.query_for(source, i) for i in ids]
        matcher.search(qs[:2], target, k=k)  # warm-up (model load, caches)
        lat = []
        with one_thread_per_query():  # as the workbench answers one query
            for q in qs:
                t = time.perf_counter()
                matcher.search(q, target, k=k)
                lat.append(time.perf_counter() - t)
        for explain in (False, True):
            t = time.perf_counter()
            matcher.search(qs, target, k=k, explain=explain)
            dt = time.perf_counter() - t
            print(f"{source.value}->{target.value}: batch of {len(qs)} (explain={explain}): {len(qs) / dt:.1f} queries/s")
        print(f"{source.value}->{target.value}: single query with explanation p50 {np.percentile(lat, 50) * 1000:.0f} ms, "
              f"p95 {np.percentile(lat, 95) * 1000:.0f} ms")
    t = time.perf_counter()
    matcher.search("锂电池 正极材料 循环寿命", Kind.PATENT, k=k)
    print(f"free text -> patents (new text, embedded on the fly): {(time.perf_counter() - t) * 1000:.0f} ms")


if __name__ == "__main__":
    app()
