"""Judge what the IVF's `nprobe` changes in patent -> enterprise lists (docs/performance.md, "What nprobe finds").

`pool`: on a saved index whose enterprise side is above `exact_limit` (IVF), rank stored patents' top 10
enterprises twice, with the configured `nprobe` and with every IVF list scanned (exact), and write the enterprises
that only one of the two lists holds as a blind packet (per patent, shuffled with a seed, no list names or ranks)
plus the key that says which list each came from.
`score`: read the key and the judgements (`pair_id  grade  judge  note`, pair_id `patent_id~enterprise_id`, grades
0 / 1 / 2) and compare the two lists: the grades of what each adds, and per patent the sum of its own candidates'
grades (`matcher.lab.significance.paired_test`: paired bootstrap 95 % interval and randomisation p, as
`matcher lab compare`; 10,000 resamples).

Usage:
    python scripts/nprobe_judging.py pool INDEX_DIR OUT_DIR [--patents 150] [--step 27] [--seed 0]
    python scripts/nprobe_judging.py score OUT_DIR data/judged/p2e-nprobe/judgements.tsv
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pandas as pd

from matcher.engine import Matcher
from matcher.lab.significance import paired_test
from matcher.schema import Kind

LISTS = ("nprobe", "exhaustive")


def pool(index_dir: Path, out: Path, patents: int, step: int, seed: int) -> None:
    """Write `packet.jsonl` (one patent and its candidates a line) and `key.tsv` under `out`."""
    matcher = Matcher.load(index_dir)
    enterprises = matcher.collection(Kind.ENTERPRISE)
    patent_ids = matcher.collection(Kind.PATENT).ids[: patents * step : step][:patents]
    queries = [matcher.query_for(Kind.PATENT, pid) for pid in patent_ids]
    ranked = {}
    for name, nprobe in zip(LISTS, (matcher.config.ivf_nprobe, 1 << 30)):  # capped at the number of lists
        enterprises.set_nprobe(nprobe)
        ranked[name] = [rows.tolist() for rows in matcher.ranked_rows(queries, Kind.ENTERPRISE, k=10)]
    rng = random.Random(seed)
    packet, key = [], []
    for pid, query, mine, exact in zip(patent_ids, queries, ranked["nprobe"], ranked["exhaustive"]):
        only = [(name, row, rows.index(row) + 1) for name, rows, other in
                (("nprobe", mine, exact), ("exhaustive", exact, mine)) for row in rows if row not in other]
        if not only:
            continue
        rng.shuffle(only)
        records = enterprises.records.loc[[row for _, row, _ in only]]
        packet.append({"patent_id": str(pid), "patent": query.text,
                       "candidates": [{"enterprise_id": r["id"], "name": r["name"], "text": r["text"]}
                                      for r in records.to_dict("records")]})
        key += [{"pair_id": f"{pid}~{r['id']}", "list": name, "rank": rank}
                for (name, _, rank), r in zip(only, records.to_dict("records"))]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "packet.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in packet)
    pd.DataFrame(key).to_csv(out / "key.tsv", sep="\t", index=False)
    print(f"{len(packet)} of {len(queries)} patents' top 10 differ; {len(key)} candidates to judge -> {out}")


def score(out: Path, judgements: Path, resamples: int = 10_000) -> None:
    """Print the comparison of the two lists on the judged candidates."""
    key = pd.read_csv(out / "key.tsv", sep="\t")
    grades = pd.read_csv(judgements, sep="\t", usecols=["pair_id", "grade"])
    judged = key.merge(grades, on="pair_id", how="left")
    if judged["grade"].isna().any():
        missing = judged.loc[judged["grade"].isna(), "pair_id"].head(5).tolist()
        raise SystemExit(f"{judgements}: {int(judged['grade'].isna().sum())} pooled pairs are not judged, e.g. {missing}")
    for name in LISTS:
        g = judged.loc[judged["list"] == name, "grade"]
        print(f"{name:10s} adds {len(g)} enterprises: mean grade {g.mean():.3f}, related (>= 1) {int((g >= 1).sum())}, "
              f"grade 2 {int((g == 2).sum())}, mean rank {judged.loc[judged['list'] == name, 'rank'].mean():.1f}")
    judged["patent"] = judged["pair_id"].str.split("~").str[0]
    sums = judged.pivot_table(index="patent", columns="list", values="grade", aggfunc="sum", fill_value=0)
    exact, mine = sums["exhaustive"].to_numpy(dtype=float), sums["nprobe"].to_numpy(dtype=float)
    gain = exact - mine
    low, high, p = paired_test(exact, mine, resamples=resamples)
    print(f"{len(gain)} patents: exhaustive better for {int((gain > 0).sum())}, nprobe better for "
          f"{int((gain < 0).sum())}, tied {int((gain == 0).sum())}; exhaustive - nprobe, sum of grades a patent: "
          f"{gain.mean():+.3f} [{low:+.3f}, {high:+.3f}], p {p:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pool")
    p.add_argument("index_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--patents", type=int, default=150)
    p.add_argument("--step", type=int, default=27, help="take every STEP-th stored patent")
    p.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score")
    s.add_argument("out", type=Path)
    s.add_argument("judgements", type=Path)
    args = parser.parse_args()
    if args.command == "pool":
        pool(args.index_dir, args.out, args.patents, args.step, args.seed)
    else:
        score(args.out, args.judgements)


if __name__ == "__main__":
    main()
