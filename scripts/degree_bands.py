"""The share of judged-related pairs in each 匹配度 band (docs/workbench.md), from the judged demand -> patent pairs.

Reads the pairs' features that `matcher lab judged calibrate` wrote (artifacts/judged/d2p/confidence-pairs.parquet:
the top 10 of each judged demand, as pasted text and as the stored record, USE-m3), reads them with the confidence
model as the workbench does (`matcher.workbench.degree`) and prints, per direction and band, the pairs, the judged
related ones (grade 1 or 2) and their share, on the test split (not used for fitting) and on all judged demands.
Usage: python scripts/degree_bands.py [PAIRS] [--qrels-dir artifacts/judged/d2p/qrels]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.rank.confidence import FEATURES
from matcher.rank.degree import degree, shipped_model

ROOT = Path(__file__).resolve().parent.parent
BANDS = [(0, 5), (5, 10), (10, 20), (20, 40), (40, 60), (60, 80), (80, 101)]


def band_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs, related pairs and their share per 匹配度 band (columns band, pairs, related, share)."""
    rows = []
    for lo, hi in BANDS:
        inside = pairs[(pairs["degree"] >= lo) & (pairs["degree"] < hi)]
        related = int(inside["label"].sum())
        rows.append({"band": f"{lo}-{min(hi, 100)}", "pairs": len(inside), "related": related,
                     "share": f"{related / len(inside):.1%}" if len(inside) else "-"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="?", default=ROOT / "artifacts" / "judged" / "d2p" / "confidence-pairs.parquet")
    parser.add_argument("--qrels-dir", default=ROOT / "artifacts" / "judged" / "d2p" / "qrels")
    args = parser.parse_args()
    pairs = pd.read_parquet(args.pairs)
    pairs = pairs[pairs["grade"] >= 0]  # judged pairs only
    test = set(pd.read_csv(Path(args.qrels_dir) / "test.tsv", sep="\t", dtype=str)["query-id"])
    model = shipped_model()
    x = pairs[list(FEATURES)].to_numpy(np.float64)
    conf = np.zeros(len(pairs))
    for direction in pairs["direction"].unique():
        rows = (pairs["direction"] == direction).to_numpy()
        conf[rows] = model.predict_proba(direction, x[rows])
    pairs = pairs.assign(degree=[degree(c) for c in conf])
    for direction in sorted(pairs["direction"].unique()):
        for name, part in (("test split", pairs[pairs["query_id"].isin(test)]), ("all judged", pairs)):
            part = part[part["direction"] == direction]
            print(f"\n{direction}, {name}: {len(part)} pairs, {int(part['label'].sum())} related")
            table = band_table(part)
            print("| 匹配度 | pairs | judged related | share related |\n|---|---|---|---|")
            for r in table.itertuples():
                print(f"| {r.band} | {r.pairs} | {r.related} | {r.share} |")


if __name__ == "__main__":
    main()
