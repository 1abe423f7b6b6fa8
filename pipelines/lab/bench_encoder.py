"""Benchmark encoder throughput (texts/s) on real Chinese patent abstracts."""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bdci_patents" / "patents.csv"


def read_abstracts(path: Path, n: int) -> list[str]:
    """Read the first non-empty abstracts of a patents CSV.

    Args:
        path: CSV with an `abstract` column.
        n: how many abstracts to return.

    Returns:
        Up to n abstracts.
    """
    texts: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            abstract = (row.get("abstract") or "").strip()
            if abstract:
                texts.append(abstract)
                if len(texts) >= n:
                    break
    return texts


def main(argv: list[str] | None = None) -> None:
    """Encode the abstracts once per batch size and print the throughput.

    Args:
        argv: command-line arguments (default: sys.argv).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="patents CSV with an 'abstract' column")
    parser.add_argument("-n", type=int, default=500, help="number of abstracts")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--encoder", default="use-m3", help="'use-m3' or a local sentence-transformers model dir")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per batch size (best is reported)")
    args = parser.parse_args(argv)

    from matcher.encode import load_encoder

    texts = read_abstracts(args.csv, args.n)
    chars = sum(map(len, texts)) / max(1, len(texts))
    started = time.perf_counter()
    encoder = load_encoder(args.encoder)
    print(f"encoder {encoder.model_id} (dim {encoder.dim}) loaded in {time.perf_counter() - started:.1f}s")
    print(f"{len(texts)} abstracts, {chars:.0f} characters on average, {os.cpu_count()} CPU cores")
    encoder.encode(texts[:32], batch_size=32)  # warm-up
    for batch_size in args.batch_sizes:
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            started = time.perf_counter()
            encoder.encode(texts, batch_size=batch_size)
            best = min(best, time.perf_counter() - started)
        print(f"batch_size={batch_size:4d}: {len(texts) / best:7.1f} texts/s ({best:.2f}s for {len(texts)})")


if __name__ == "__main__":
    main()
