"""Measure what a 200,000-character paste costs on the workbench's shared engine, before and after the paste cap.

Builds the demo index with the configured encoder (USE-m3 by default; MATCHER_ENCODER overrides) in a temporary
folder, then times: a normal pasted demand alone; the long paste as it was (the whole text encoded and segmented);
the long paste as the workbench now prepares it (`matcher.workbench.inputs.prepare_paste`: cleaned, cut to
MAX_QUERY_CHARS); and, for both, a second officer's normal query started 0.5 s into the long one (another thread on
the same engine, as Streamlit runs sessions). Usage: python scripts/measure_long_paste.py [--skip-before]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

from matcher.config import MatcherConfig
from matcher.engine import Matcher, Query
from matcher.schema import Kind
from matcher.workbench.inputs import prepare_paste

ROOT = Path(__file__).resolve().parent.parent
DEMAND = "我们生产可降解购物袋，薄膜容易撕裂，希望提高薄膜韧性和抗撕裂性能"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def other_officer(matcher: Matcher, text: str) -> float:
    return timed(lambda: matcher.search(Query(text=text), Kind.PATENT, k=10))


def with_second_query(matcher: Matcher, heavy: str, light: str) -> tuple[float, float]:
    """(the heavy query's seconds, the light query's seconds when started 0.5 s into the heavy one)."""
    out = {}
    thread = threading.Thread(target=lambda: out.__setitem__("heavy", other_officer(matcher, heavy)))
    thread.start()
    time.sleep(0.5)
    out["light"] = other_officer(matcher, light)
    thread.join()
    return out["heavy"], out["light"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-before", action="store_true", help="only measure the capped paste")
    args = parser.parse_args()
    encoder = os.environ.get("MATCHER_ENCODER", "use-m3")
    with tempfile.TemporaryDirectory() as tmp:
        config = MatcherConfig(encoder=encoder, cache_dir=Path(tmp) / "cache")
        matcher = Matcher(config)
        matcher.index(Kind.PATENT, pd.read_csv(ROOT / "data" / "demo" / "patents.csv", dtype=str, keep_default_na=False))
        matcher.index(Kind.ENTERPRISE, pd.read_csv(ROOT / "data" / "demo" / "enterprises.csv", dtype=str, keep_default_na=False))
        matcher.search(Query(text="预热"), Kind.PATENT, k=10)  # load the model
        long = ("我们生产可降解购物袋，薄膜容易撕裂，希望提高薄膜韧性和抗撕裂性能，同时降低成本。" * 6000)[:200_000]
        print(f"encoder {encoder}; paste {len(long):,} characters")
        print(f"normal query alone: {other_officer(matcher, DEMAND + '（一）'):.2f} s")
        if not args.skip_before:
            heavy, light = with_second_query(matcher, long, DEMAND + "（二）")
            print(f"whole paste (no cap): long query {heavy:.2f} s; second officer's query meanwhile {light:.2f} s")
        capped = prepare_paste(long).text
        heavy, light = with_second_query(matcher, capped + "（新）", DEMAND + "（三）")
        print(f"after (cut to {len(capped):,} characters): long query {heavy:.2f} s; second officer's query meanwhile {light:.2f} s")


if __name__ == "__main__":
    main()
