"""Encode throughput (texts/s) of encoder specs on real business-scope items, each with a cold embedding cache.

Reads the first N distinct scope items (经营范围 split as the index splits them) of a registry CSV and encodes them
the way `matcher build` does (normalised text, the product's on-disk cache, ensembles cached per part), once per
encoder spec, each into a fresh temporary cache folder, so nothing is read from an earlier run. Run it niced on a
shared machine and say so beside the numbers.

Example:
    nice -n 10 .venv/bin/python scripts/encode_throughput.py -n 5000 \
        --encoder use-m3 --encoder models/patent-static --encoder use-m3+models/patent-static
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "registry" / "companies_20k.csv"


def scope_items(path: Path, n: int, column: str = "经营范围") -> list[str]:
    """The first n distinct scope items of a registry CSV, split as the index splits them.

    Args:
        path: a CSV with a business-scope column.
        n: how many items to return.
        column: the scope column's header.

    Returns:
        Up to n distinct items, in file order.
    """
    from matcher.text.items import split_items

    seen: dict[str, None] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            for item in split_items(row.get(column) or ""):
                seen.setdefault(item, None)
                if len(seen) >= n:
                    return list(seen)
    return list(seen)


def measure(spec: str, texts: list[str]) -> dict:
    """Load one encoder and encode the texts through a cold on-disk cache.

    Args:
        spec: an encoder spec ("use-m3", a model folder, or an ensemble "a+b").
        texts: the texts.

    Returns:
        {"encoder", "texts", "load_s", "encode_s", "texts_per_s"}.
    """
    from matcher.encode import load_encoder, with_cache
    from matcher.text.boilerplate import embedding_text

    started = time.perf_counter()
    encoder = load_encoder(spec)
    loaded = time.perf_counter() - started
    prepared = [embedding_text(t) for t in texts]
    with tempfile.TemporaryDirectory(prefix="encode-throughput-") as cold:
        cached = with_cache(encoder, cold)
        started = time.perf_counter()
        cached.encode(prepared)
        seconds = time.perf_counter() - started
    return {"encoder": spec, "texts": len(texts), "load_s": round(loaded, 1), "encode_s": round(seconds, 1),
            "texts_per_s": round(len(texts) / seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    """Print one line per encoder spec, then all of them as one JSON object on the last line.

    Args:
        argv: command-line arguments (default: sys.argv).
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="registry CSV with a 经营范围 column")
    parser.add_argument("-n", type=int, default=5000, help="number of distinct scope items")
    parser.add_argument("--encoder", action="append", required=True, help="encoder spec (repeat for several)")
    args = parser.parse_args(argv)
    texts = scope_items(args.csv, args.n)
    chars = sum(map(len, texts)) / max(1, len(texts))
    print(f"{len(texts)} scope items from {args.csv}, {chars:.1f} characters on average", flush=True)
    results = []
    for spec in args.encoder:
        result = measure(spec, texts)
        results.append(result)
        print(f"{spec}: {result['texts_per_s']:.0f} texts/s ({result['encode_s']} s; model load {result['load_s']} s)",
              flush=True)
    print(json.dumps({"items": len(texts), "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
