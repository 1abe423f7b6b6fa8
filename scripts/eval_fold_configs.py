"""Rank the dev and held-out company benchmarks with one engine configuration and one dev-company fold's encoder.

The honest number of a configuration with a trained encoder comes from a model that never saw the company asked
for. A fold model of `matcher lab train --cross-validate` (or `--holdout-fold K --folds 2`) never saw the dev
companies of its fold, nor any held-out company (those are left out of every model). So one run per fold ranks,
in one index (the reciprocal lists are computed once), the fold's c2p-dev / p2c-dev queries together with every
c2p-other / p2c-other query. The ranking is then split per benchmark: `OUT/NAME/c2p-dev.trec` joins the folds'
dev parts (every dev query ranked once, by a model that did not learn its company), `OUT/NAME/c2p-other.fK.trec`
is fold K's model on the held-out companies. kw2p-dev (no company labels) is ranked whole with the fold's model.
All files are for `matcher lab compare`. A configuration without a trained encoder takes `--fold all`.

Example (the ensemble, fold 0, everything):
    nice -n 10 .venv/bin/python scripts/eval_fold_configs.py --name ensemble --config config/ensemble.json \
        --encoder 'use-m3+models/cv/fold-{fold}' --fold 0 --sets c2p p2c kw2p --out runs/default-choice
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mixed_folder(kind: str, fold: str, shared: Path, held_out: Path, work: Path) -> tuple[Path, Path]:
    """A BEIR folder with one fold's dev queries and every held-out query of a company benchmark, and the query
    side's records to index beside it.

    Args:
        kind: "c2p" or "p2c".
        fold: "0", "1" (of 2 folds) or "all".
        shared: the shared folder (benchmarks/<kind>-dev).
        held_out: the folder of `matcher lab held-out` (<kind>-other).
        work: where the mixed folder is written.

    Returns:
        (the folder, the mirror corpus.jsonl whose records the queries are asked as).
    """
    from matcher.lab.evaluate import load_beir, mirror_records, write_beir
    from matcher.lab.folds import fold_query_ids

    dev, other = shared / "benchmarks" / f"{kind}-dev", held_out / f"{kind}-other"
    keep = set(load_beir(dev).queries) if fold == "all" else fold_query_ids(dev, int(fold), 2)
    queries, qrels = {}, {}
    for folder, wanted in ((dev, keep), (other, None)):
        bench = load_beir(folder)
        for q, text in bench.queries.items():
            if wanted is None or q in wanted:
                queries[q], qrels[q] = text, bench.qrels.get(q, {})
    if (dev / "corpus.jsonl").read_bytes() != (other / "corpus.jsonl").read_bytes():
        raise SystemExit(f"{dev} and {other} do not share a corpus: rank them apart")
    target = write_beir(work / f"{kind}-mix-f{fold}", queries, qrels, dev / "corpus.jsonl")
    return target, mirror_records(dev)


def split_run(run_file: Path, parts: dict[str, set[str]]) -> None:
    """Write each named part of a TREC run file (the lines of its query ids) beside it as NAME.trec.

    Args:
        run_file: the mixed ranking.
        parts: output file name -> query ids.
    """
    lines = run_file.read_text(encoding="utf-8").splitlines(keepends=True)
    for name, ids in parts.items():
        (run_file.parent / f"{name}.trec").write_text("".join(x for x in lines if x.split(" ", 1)[0] in ids),
                                                       encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Rank the chosen sets and print one JSON line of metrics per set."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="the configuration's name (a folder under --out)")
    parser.add_argument("--config", type=Path, help="engine configuration JSON (default: the built-in defaults)")
    parser.add_argument("--encoder", help="encoder spec, '{fold}' standing for the fold number (default: the config's)")
    parser.add_argument("--fold", default="all", choices=["0", "1", "all"])
    parser.add_argument("--sets", nargs="+", default=["c2p", "p2c", "kw2p"], choices=["c2p", "p2c", "kw2p"])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "default-choice")
    parser.add_argument("--shared-dir", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--held-out", type=Path, default=ROOT / "artifacts" / "benchmarks")
    args = parser.parse_args(argv)

    from matcher.config import load_config
    from matcher.engine import Matcher
    from matcher.lab.evaluate import load_beir, registry_attributes, run_benchmark

    encoder = args.encoder.replace("{fold}", args.fold) if args.encoder else None
    cfg = load_config(args.config, encoder=encoder)
    attributes = registry_attributes(args.shared_dir)
    out = args.out / args.name / f"f{args.fold}"
    out.mkdir(parents=True, exist_ok=True)
    for kind in args.sets:
        started = time.perf_counter()
        if kind == "kw2p":
            folder, records = args.shared_dir / "benchmarks" / "kw2p-dev", None
        else:
            folder, records = mixed_folder(kind, args.fold, args.shared_dir, args.held_out, out / "bench")
        run_file = out / f"{folder.name}.trec"
        metrics = run_benchmark(folder, Matcher(cfg), query_records=records, run_file=run_file,
                                enterprise_attributes=attributes)
        if kind != "kw2p":
            dev = set(load_beir(args.shared_dir / "benchmarks" / f"{kind}-dev").queries)
            other = set(load_beir(args.held_out / f"{kind}-other").queries)
            split_run(run_file, {f"{kind}-dev": dev, f"{kind}-other": other})
        print(json.dumps({"name": args.name, "fold": args.fold, "set": folder.name, "encoder": cfg.encoder,
                          "seconds": round(time.perf_counter() - started, 1), **metrics}), flush=True)
        gc.collect()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
